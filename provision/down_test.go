package provision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"

	"github.com/fluidos-lab/testbed/internal/dockernet"
)

// hookedDeletes is the fake lab with a hook run at the start of every
// cluster delete: it may cancel Down's context or fail the delete.
type hookedDeletes struct {
	*fakeLab
	hook func(name string) error
}

func (h hookedDeletes) Delete(name, kubeconfig string) error {
	if err := h.hook(name); err != nil {
		h.record("delete-failed " + name)
		return err
	}
	return h.fakeLab.Delete(name, kubeconfig)
}

// countingProgress counts each cluster's Start and Done events and keeps
// the error of its last Done.
type countingProgress struct {
	mu      sync.Mutex
	starts  map[string]int
	dones   map[string]int
	doneErr map[string]error
}

func newCountingProgress() *countingProgress {
	return &countingProgress{starts: map[string]int{}, dones: map[string]int{}, doneErr: map[string]error{}}
}

func (c *countingProgress) Start(cluster, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts[cluster]++
}

func (c *countingProgress) Done(cluster, _, _ string, _ time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dones[cluster]++
	c.doneErr[cluster] = err
}

func (c *countingProgress) Logf(string, ...any) {}

func TestDownInterruptedOrFailing(t *testing.T) {
	boom := errors.New("boom")
	type hookFn func(cancel context.CancelFunc) func(string) error
	cancelAt := func(at string) hookFn {
		return func(cancel context.CancelFunc) func(string) error {
			return func(name string) error {
				if name == at {
					cancel()
				}
				return nil
			}
		}
	}
	none := func(context.CancelFunc) func(string) error { return func(string) error { return nil } }
	tests := []struct {
		name          string
		hook          hookFn
		cancelFirst   bool
		stateRootFile bool // the state root is a file: no kubeconfig dir can be made
		wantRep       *DownReport
		wantLeft      []string // clusters still there afterwards
		wantErr       []string // substrings of the error; none means no error
		interrupted   bool
		started       []string // clusters whose delete started (one Start and one Done each)
	}{
		{name: "every cluster and the network", hook: none,
			wantRep: &DownReport{Clusters: []string{"c1", "c2", "c3"}, Networks: []string{"testbed-a"}},
			started: []string{"c1", "c2", "c3"}},
		{name: "cancelled during the first delete", hook: cancelAt("c1"),
			wantRep: &DownReport{Clusters: []string{"c1"}}, wantLeft: []string{"c2", "c3"},
			wantErr:     []string{"interrupted: 2 of 3 cluster(s) not removed [c2 c3]: context canceled", "testbed down` again"},
			interrupted: true, started: []string{"c1"}},
		{name: "cancelled before Down", hook: none, cancelFirst: true,
			wantRep: &DownReport{}, wantLeft: []string{"c1", "c2", "c3"},
			wantErr:     []string{"3 of 3 cluster(s) not removed [c1 c2 c3]: context canceled"},
			interrupted: true},
		{name: "cancelled during the last delete: the network stays", hook: cancelAt("c3"),
			wantRep:     &DownReport{Clusters: []string{"c1", "c2", "c3"}},
			wantErr:     []string{"every cluster removed, but not the network(s) [testbed-a]: context canceled"},
			interrupted: true, started: []string{"c1", "c2", "c3"}},
		{name: "one delete fails", hook: func(context.CancelFunc) func(string) error {
			return func(name string) error {
				if name == "c2" {
					return boom
				}
				return nil
			}
		}, wantRep: &DownReport{Clusters: []string{"c1", "c3"}}, wantLeft: []string{"c2"},
			wantErr: []string{`1 of 3 cluster(s) not removed [c2]: cluster "c2": delete: boom`},
			started: []string{"c1", "c2", "c3"}},
		{name: "no kubeconfig directory", hook: none, stateRootFile: true,
			wantRep: &DownReport{}, wantLeft: []string{"c1", "c2", "c3"},
			wantErr: []string{"3 of 3 cluster(s) not removed [c1 c2 c3]", `cluster "c1": delete: creating the kubeconfig directory`},
			started: []string{"c1", "c2", "c3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			f.networks["testbed-a"] = network.Summary{Name: "testbed-a", ID: "a", Labels: dockernet.Labels("a")}
			for _, c := range []string{"c3", "c1", "c2"} {
				f.nodes[c] = []dockernet.Node{{Name: c + "-control-plane", Cluster: c, State: "running"}}
			}
			root := t.TempDir()
			if tt.stateRootFile {
				root = filepath.Join(root, "file")
				if err := os.WriteFile(root, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelFirst {
				cancel()
			}
			prog := newCountingProgress()
			p := newTestProvisioner(t, f, WithClusters(hookedDeletes{f, tt.hook(cancel)}), WithProgress(prog))
			// One delete at a time: the cancelling hook decides which start.
			rep, err := p.Down(ctx, DownOptions{Topology: "a", StateRoot: root, Parallelism: 1})
			checkDownError(t, err, tt.wantErr, tt.interrupted)
			if d := cmp.Diff(tt.wantRep, rep); d != "" {
				t.Errorf("report (-want +got):\n%s", d)
			}
			left, _ := f.List()
			if d := cmp.Diff(tt.wantLeft, left); d != "" {
				t.Errorf("clusters left (-want +got):\n%s", d)
			}
			if _, kept := f.networks["testbed-a"]; kept != (tt.wantRep.Networks == nil) {
				t.Errorf("network kept = %v, report %v", kept, tt.wantRep.Networks)
			}
			checkDeleteProgress(t, prog, tt.started)
		})
	}
}

// checkDownError checks that err holds every wanted substring (or is nil
// when none is wanted) and wraps ErrInterrupted and context.Canceled
// exactly when interrupted.
func checkDownError(t *testing.T, err error, want []string, interrupted bool) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Down: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("Down: no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if errors.Is(err, ErrInterrupted) != interrupted || errors.Is(err, context.Canceled) != interrupted {
		t.Errorf("error %q: interrupted %v, context.Canceled %v, want both %v", err,
			errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled), interrupted)
	}
}

// checkDeleteProgress checks that exactly the started clusters had one
// Start and one Done each, and that a failed delete's Done carried it.
func checkDeleteProgress(t *testing.T, prog *countingProgress, started []string) {
	t.Helper()
	want := map[string]int{}
	for _, c := range started {
		want[c] = 1
	}
	if d := cmp.Diff(want, prog.starts); d != "" {
		t.Errorf("progress starts (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, prog.dones); d != "" {
		t.Errorf("progress dones (-want +got):\n%s", d)
	}
}

func TestDownStepErrorsNameTheFailedClusters(t *testing.T) {
	f := newFakeLab()
	f.networks["testbed-a"] = network.Summary{Name: "testbed-a", ID: "a", Labels: dockernet.Labels("a")}
	for _, c := range []string{"c1", "c2"} {
		f.nodes[c] = []dockernet.Node{{Name: c + "-control-plane", Cluster: c, State: "running"}}
	}
	boom := errors.New("boom")
	prog := newCountingProgress()
	p := newTestProvisioner(t, f, WithProgress(prog),
		WithClusters(hookedDeletes{f, func(string) error { return boom }}))
	_, err := p.Down(context.Background(), DownOptions{Topology: "a", StateRoot: t.TempDir()})
	var got []string
	for _, se := range StepErrors(err) {
		got = append(got, se.Cluster+"/"+se.Step)
		if !errors.Is(se, boom) {
			t.Errorf("%v does not wrap the delete's error", se)
		}
	}
	if d := cmp.Diff([]string{"c1/delete", "c2/delete"}, got); d != "" {
		t.Errorf("step errors (-want +got):\n%s", d)
	}
	for _, c := range []string{"c1", "c2"} {
		if !errors.Is(prog.doneErr[c], boom) {
			t.Errorf("%s: progress Done error %v", c, prog.doneErr[c])
		}
	}
}
