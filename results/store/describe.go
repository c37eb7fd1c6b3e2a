package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/results"
)

// Campaign states of a listing.
const (
	StateComplete = "complete" // every planned run recorded and the campaign ended
	StatePartial  = "partial"  // runs missing and not interrupted (running, or crashed)
	StateAborted  = "aborted"  // the last recorded run was aborted (Ctrl-C); --resume continues
	StateSweep    = "sweep"    // a sweep directory (its cells are campaigns)
)

// Info sums up one campaign directory for a listing.
type Info struct {
	Dir        string    `json:"dir"`
	Campaign   string    `json:"campaign"`
	Kind       string    `json:"kind"`
	Scenario   string    `json:"scenario,omitempty"`
	Protocol   string    `json:"protocol,omitempty"`
	Conditions int       `json:"conditions"`
	Done       int       `json:"runsDone"`
	Planned    int       `json:"runsPlanned"`
	State      string    `json:"state"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitempty"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// Describe reads the campaign in dir (streamed) and counts its runs: a
// (condition, index) counts once, and aborted records do not count. It
// stops with ctx's error when ctx ends.
func Describe(ctx context.Context, dir string) (Info, error) {
	s, err := OpenStream(dir)
	if err != nil {
		return Info{}, err
	}
	m := s.Campaign().Manifest
	in := Info{Dir: dir, Campaign: m.Campaign, Kind: m.Kind, Protocol: m.Protocol, Conditions: len(m.Conditions), Started: m.Started, Ended: m.Ended}
	for _, i := range m.Inputs {
		if i.Role == "scenario" {
			in.Scenario = i.Path
		}
	}
	if m.Kind == "sweep" {
		in.State = StateSweep
		return in, nil
	}
	for _, c := range m.Conditions {
		in.Planned += max(0, c.Runs) + max(0, c.Warmup)
	}
	// The integrity checker refuses a second record of a counted index,
	// so every non-aborted run visited is a distinct (condition, index).
	lastAborted := false
	err = s.EachTransient(ctx, func(r *results.Run) error {
		lastAborted = r.Aborted
		if !r.Aborted {
			in.Done++
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	in.Warnings = s.Campaign().Warnings
	switch {
	case in.Done >= in.Planned && !m.Ended.IsZero():
		in.State = StateComplete
	case lastAborted:
		in.State = StateAborted
	default:
		in.State = StatePartial
	}
	return in, nil
}

// MaxListDepth is how deep List looks below its root for campaigns.
const MaxListDepth = 4

// List finds the campaign and sweep directories (those holding a
// manifest.json) at most MaxListDepth levels below root and describes
// each, sorted by start time. A directory that cannot be read as a
// campaign is listed with its error in Warnings rather than failing the
// listing.
func List(ctx context.Context, root string) ([]Info, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // unreadable below root: skip it
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !d.IsDir() {
			return nil
		}
		if rel, _ := filepath.Rel(root, path); rel != "." && strings.Count(filepath.ToSlash(rel), "/")+1 > MaxListDepth {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, FileManifest)); err == nil {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing campaigns under %s: %w", root, err)
	}
	var out []Info
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		in, err := Describe(ctx, d)
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return out, err
		}
		if err != nil {
			in = Info{Dir: d, State: "unreadable", Warnings: []string{err.Error()}}
		}
		out = append(out, in)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}
