package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/scenarios/sweep"
)

// runCancelled runs the root command in-process on an already-cancelled
// context, as after Ctrl-C, and returns stdout and the error.
func runCancelled(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	return out.String(), cmd.ExecuteContext(ctx)
}

func TestLongCommandsStopOnACancelledContext(t *testing.T) {
	t.Setenv("TESTBED_STATE_DIR", t.TempDir())
	campaign := writeSynthCampaign(t, "base", 0, 1)
	sw := writeSweepDir(t, 2)
	tests := []struct {
		name string
		args []string
		want string
	}{
		// The campaign readers take the context (they read to the end
		// before, and compare, export and the sweep commands exited 0).
		{"compare", []string{"compare", campaign, campaign}, "compare " + campaign + " " + campaign + " interrupted: context canceled"},
		{"export", []string{"export", campaign}, "export " + campaign + " interrupted: context canceled"},
		{"sweep report", []string{"sweep", "report", sw}, "sweep report " + sw + " interrupted: context canceled"},
		{"sweep compare", []string{"sweep", "compare", sw, sw}, "sweep compare " + sw + " " + sw + " interrupted: context canceled"},
		{"validate", []string{"validate", topologyDir + "/2-nodes.yaml", topologyDir + "/24-nodes.yaml"},
			"validate interrupted after 0 of 2 files (at " + topologyDir + "/2-nodes.yaml): context canceled"},
		{"plan", []string{"plan", topologyDir + "/24-nodes.yaml"}, "plan " + topologyDir + "/24-nodes.yaml interrupted: context canceled"},
		{"report", []string{"report", campaign, "--no-png"}, "report " + campaign + " interrupted before the report was written: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCancelled(t, tt.args...)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want one wrapping context.Canceled", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if code := exitCodeOf(err, false); code != exitInterrupted {
				t.Errorf("exit %d, want %d", code, exitInterrupted)
			}
			if out != "" {
				t.Errorf("printed %q", out)
			}
		})
	}
	for _, name := range []string{"report.html", "summary.json", "plots"} {
		if _, err := os.Stat(filepath.Join(campaign, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("interrupted report left %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(sw, sweep.DirReport)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("interrupted sweep report left %s: %v", sweep.DirReport, err)
	}
}

func TestInterruptible(t *testing.T) {
	if v, err := interruptible(context.Background(), func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("finished work: %v, %v", v, err)
	}
	boom := errors.New("boom")
	if _, err := interruptible(context.Background(), func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("failed work: %v", err)
	}
	// Work that cannot be cancelled (it ends the context itself and then
	// blocks until the test is over) is abandoned: the call returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	defer close(release)
	v, err := interruptible(ctx, func() (int, error) {
		cancel()
		<-release
		return 7, nil
	})
	if !errors.Is(err, context.Canceled) || v != 0 {
		t.Errorf("interrupted work: %v, %v", v, err)
	}
}

// setMemoryLimit sets the runtime's memory limit for the test and restores
// the one before it afterwards.
func setMemoryLimit(t *testing.T, limit int64) {
	prev := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

// unsetEnv removes key from the environment for the test.
func unsetEnv(t *testing.T, key string) {
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}

func TestReportSoftMemoryLimit(t *testing.T) {
	const before = 3 << 30
	setMemoryLimit(t, before)
	current := func() int64 { return debug.SetMemoryLimit(-1) }
	t.Run("GOMEMLIMIT unset: set, then restored", func(t *testing.T) {
		unsetEnv(t, "GOMEMLIMIT")
		restore := softMemoryLimit(reportMemoryLimit)
		if got := current(); got != reportMemoryLimit {
			t.Errorf("limit during report %d, want %d", got, reportMemoryLimit)
		}
		restore()
		if got := current(); got != before {
			t.Errorf("limit after report %d, want %d", got, before)
		}
	})
	t.Run("GOMEMLIMIT set: untouched", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "1GiB")
		restore := softMemoryLimit(reportMemoryLimit)
		if got := current(); got != before {
			t.Errorf("limit during report %d, want the untouched %d", got, before)
		}
		restore()
		if got := current(); got != before {
			t.Errorf("limit after report %d, want %d", got, before)
		}
	})
	campaign := writeSynthCampaign(t, "base", 0, 1)
	for _, env := range []string{"", "1GiB"} {
		t.Run("report command, GOMEMLIMIT="+env, func(t *testing.T) {
			if env == "" {
				unsetEnv(t, "GOMEMLIMIT")
			} else {
				t.Setenv("GOMEMLIMIT", env)
			}
			for _, args := range [][]string{{"report", campaign, "--no-png", "-o", "json"}, {"report", filepath.Join(campaign, "nope")}} {
				_, _, _, _ = runResultsCLI(t, args...)
				if got := current(); got != before {
					t.Errorf("%v: limit after the command %d, want %d", args, got, before)
				}
			}
			if _, err := runCancelled(t, "report", campaign); err == nil || current() != before {
				t.Errorf("cancelled report: %v, limit after %d, want %d", err, current(), before)
			}
		})
	}
}

// limitCtx records the runtime's memory limit each time a reader checks
// it, that is while the command reads its campaigns.
type limitCtx struct {
	context.Context
	seen []int64
}

func (c *limitCtx) Err() error {
	c.seen = append(c.seen, debug.SetMemoryLimit(-1))
	return nil
}

// TestReadersRunUnderTheSoftMemoryLimit: report and compare read their
// campaigns under the 400 MiB soft limit when GOMEMLIMIT is unset (compare
// had none: 482 MiB of RSS on two campaigns of 10^6 runs, 450 with it),
// under the user's when it is set, and restore the previous one.
func TestReadersRunUnderTheSoftMemoryLimit(t *testing.T) {
	const before = 3 << 30
	setMemoryLimit(t, before)
	campaign := writeSynthCampaign(t, "base", 0, 1)
	for _, args := range [][]string{{"report", campaign, "--no-png"}, {"compare", campaign, campaign}} {
		for _, env := range []string{"", "1GiB"} {
			t.Run(args[0]+"/GOMEMLIMIT="+env, func(t *testing.T) {
				want := int64(reportMemoryLimit)
				if env == "" {
					unsetEnv(t, "GOMEMLIMIT")
				} else {
					t.Setenv("GOMEMLIMIT", env)
					want = before
				}
				ctx := &limitCtx{Context: context.Background()}
				cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
				cmd.SetArgs(args)
				if err := cmd.ExecuteContext(ctx); err != nil {
					t.Fatal(err)
				}
				if len(ctx.seen) == 0 {
					t.Fatal("the command never checked its context")
				}
				for _, l := range ctx.seen {
					if l != want {
						t.Fatalf("limit while reading %d, want %d", l, want)
					}
				}
				if got := debug.SetMemoryLimit(-1); got != before {
					t.Errorf("limit after the command %d, want %d", got, before)
				}
			})
		}
	}
}
