package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/fluidos-lab/testbed/results"
)

// FileManifest and FileRuns are the names of a campaign's files.
const (
	FileManifest = "manifest.json"
	FileRuns     = "runs.jsonl"
)

// Recorder receives each run as it ends. Implementations must make the run
// durable before Append returns.
type Recorder interface {
	Append(ctx context.Context, r results.Run) error
	Close() error
}

// Campaign is a campaign directory read back.
type Campaign struct {
	Dir      string
	Manifest results.Manifest
	Runs     []results.Run
	// Warnings are recoverable problems (e.g. a truncated last line).
	Warnings []string
}

// ExpectedPeers lists the peers node A should discover: the manifest's
// peers, or, when the manifest names none, every peer the runs mention
// (discovered or missing), sorted.
func ExpectedPeers(m results.Manifest, runs []results.Run) []string {
	if len(m.Peers) > 0 {
		return m.Peers
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, r := range runs {
		for _, p := range r.Peers {
			add(p.Peer)
		}
		for _, p := range r.Missing {
			add(p)
		}
	}
	sort.Strings(out)
	return out
}

// FileRecorder appends runs to <dir>/runs.jsonl, fsyncing each line.
type FileRecorder struct {
	dir string
	f   *os.File
}

var _ Recorder = (*FileRecorder)(nil)

// Create creates dir (if needed), writes m as manifest.json and
// returns a recorder for a new runs.jsonl. It refuses a directory that
// already holds a campaign; use Open to resume one.
func Create(dir string, m results.Manifest) (*FileRecorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating campaign directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileManifest)); err == nil {
		return nil, fmt.Errorf("campaign directory %s already holds %s (resume it instead)", dir, FileManifest)
	}
	if err := WriteManifest(dir, m); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, FileRuns), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", FileRuns, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &FileRecorder{dir: dir, f: f}, nil
}

// Open opens an existing campaign for appending (resume). A
// truncated last line left by a crash is cut off the file (and reported in
// the returned Campaign's Warnings); a complete last run that only lacks its
// newline is kept and terminated. New lines then start cleanly.
func Open(dir string) (*FileRecorder, *Campaign, error) {
	c, err := Read(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, FileRuns)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	end, err := completeLength(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scanning %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scanning %s: %w", path, err)
	}
	if st.Size() > end {
		tail := make([]byte, st.Size()-end)
		if _, err := f.ReadAt(tail, end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("reading last line of %s: %w", path, err)
		}
		if _, derr := decodeRun(tail); derr == nil {
			// A complete run whose newline was not written: keep it.
			if _, err := f.WriteAt([]byte{'\n'}, st.Size()); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("terminating last line of %s: %w", path, err)
			}
			end = st.Size() + 1
		} else if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncating partial last line of %s: %w", path, err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seeking %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("syncing %s: %w", path, err)
	}
	return &FileRecorder{dir: dir, f: f}, c, nil
}

// completeLength returns the length of f up to and including its last
// newline.
func completeLength(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 64*1024)
	for off := size; off > 0; {
		n := int64(len(buf))
		if n > off {
			n = off
		}
		off -= n
		if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return off + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// Append writes r as one JSON line and fsyncs it.
func (w *FileRecorder) Append(ctx context.Context, r results.Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending run %s/%d: %w", r.Condition, r.Index, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding run %s/%d: %w", r.Condition, r.Index, err)
	}
	b = append(b, '\n')
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("writing run %s/%d to %s: %w", r.Condition, r.Index, w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.f.Name(), err)
	}
	return nil
}

// UpdateManifest atomically replaces the campaign's manifest.json (e.g. to
// set Ended or add warnings).
func (w *FileRecorder) UpdateManifest(m results.Manifest) error { return WriteManifest(w.dir, m) }

// Close closes runs.jsonl.
func (w *FileRecorder) Close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", w.f.Name(), err)
	}
	return nil
}

// WriteManifest writes dir/manifest.json atomically: temp file, fsync,
// rename, fsync of the directory.
func WriteManifest(dir string, m results.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, FileManifest), append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Read reads dir's manifest.json and runs.jsonl. A missing
// runs.jsonl is an empty campaign.
func Read(dir string) (*Campaign, error) {
	c := &Campaign{Dir: dir}
	mb, err := os.ReadFile(filepath.Join(dir, FileManifest))
	if err != nil {
		return nil, fmt.Errorf("reading campaign %s: %w", dir, err)
	}
	if err := json.Unmarshal(mb, &c.Manifest); err != nil {
		return nil, fmt.Errorf("reading campaign %s: %s: %w", dir, FileManifest, err)
	}
	f, err := os.Open(filepath.Join(dir, FileRuns))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading campaign %s: %w", dir, err)
	}
	defer f.Close()
	runs, warns, err := ReadRuns(f)
	if err != nil {
		return nil, fmt.Errorf("reading campaign %s: %s: %w", dir, FileRuns, err)
	}
	c.Runs = runs
	c.Warnings = warns
	return c, nil
}

// LineError is a malformed line of runs.jsonl.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ReadRuns decodes runs.jsonl. Blank lines are skipped. A last line that has
// no terminating newline and does not decode is a write cut short by a
// crash: it is skipped and reported as a warning. Any other malformed line
// is an error naming its line number.
func ReadRuns(r io.Reader) ([]results.Run, []string, error) {
	br := bufio.NewReader(r)
	var (
		runs  []results.Run
		warns []string
	)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		if len(bytes.TrimSpace(b)) > 0 {
			run, derr := decodeRun(b)
			switch {
			case derr == nil:
				runs = append(runs, run)
			case !complete:
				warns = append(warns, fmt.Sprintf("line %d: truncated last line skipped (%d bytes, no newline): %v", line, len(b), derr))
			default:
				return nil, nil, &LineError{Line: line, Err: derr}
			}
		}
		if errors.Is(err, io.EOF) {
			return runs, warns, nil
		}
	}
}

func decodeRun(b []byte) (results.Run, error) {
	var r results.Run
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return r, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	if r.Condition == "" {
		return r, errors.New("run has no condition")
	}
	if r.Index < 0 {
		return r, fmt.Errorf("run %s has negative index %d", r.Condition, r.Index)
	}
	if err := checkTimes(r); err != nil {
		return r, fmt.Errorf("run %s/%d: %w", r.Condition, r.Index, err)
	}
	return r, nil
}

// maxAbsMS bounds every time and percentage in a run (about 31 years in
// ms): larger values are corrupt and would overflow the statistics.
const maxAbsMS = 1e12

// checkTimes rejects out-of-range numbers in a run.
func checkTimes(r results.Run) error {
	check := func(name string, v float64) error {
		if v > maxAbsMS || v < -maxAbsMS {
			return fmt.Errorf("%s = %g is out of range (|v| ≤ %g)", name, v, maxAbsMS)
		}
		return nil
	}
	opt := func(name string, v *float64) error {
		if v == nil {
			return nil
		}
		return check(name, *v)
	}
	errs := []error{
		check("pauseMS", r.PauseMS), check("cycleOverheadMS", r.CycleOverheadMS), check("apiLatencyMS", r.APILatencyMS),
		check("endMS", r.EndMS), check("impairment.lossPct", r.Impairment.LossPct),
		opt("impairment.achievedLossPct", r.Impairment.AchievedLossPct),
		opt("pod.scheduledMS", r.Pod.ScheduledMS), opt("pod.startedMS", r.Pod.StartedMS),
		opt("pod.readyMS", r.Pod.ReadyMS), opt("pod.containerStartMS", r.Pod.ContainerStartMS), opt("pod.leaveMS", r.Pod.LeaveMS),
	}
	for _, p := range r.Peers {
		errs = append(errs, opt("discoveredMS", p.DiscoveredMS), opt("reverseMS", p.ReverseMS), opt("goneMS", p.GoneMS),
			opt("truthMS", p.TruthMS), opt("truthSendMS", p.TruthSendMS))
		for _, f := range p.Flaps {
			errs = append(errs, check("flaps.deletedMS", f.DeletedMS), opt("flaps.readdedMS", f.ReaddedMS))
		}
	}
	return errors.Join(errs...)
}

// Position names one run of a campaign.
type Position struct {
	Condition string `json:"condition"`
	Index     int    `json:"index"`
}

// ResumePoint tells a runner where to continue: the last complete run
// recorded (ok=false when there is none) and, per condition, the next run
// index to execute (one past the highest recorded index). Runs are complete
// once their line is in runs.jsonl; aborted runs count as recorded.
func ResumePoint(runs []results.Run) (last Position, next map[string]int, ok bool) {
	next = make(map[string]int)
	for _, r := range runs {
		if n := r.Index + 1; n > next[r.Condition] {
			next[r.Condition] = n
		}
	}
	if len(runs) == 0 {
		return Position{}, next, false
	}
	l := runs[len(runs)-1]
	return Position{Condition: l.Condition, Index: l.Index}, next, true
}
