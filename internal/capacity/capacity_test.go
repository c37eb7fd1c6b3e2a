package capacity

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeStats struct {
	round   int
	samples []map[string]Sample // per round
	err     error
}

func (f *fakeStats) Sample(_ context.Context, id string) (Sample, error) {
	if f.err != nil {
		return Sample{}, f.err
	}
	return f.samples[f.round][id], nil
}

type fakeProbe struct{}

func (fakeProbe) Inotify(ids []string) (map[string]int, map[string]int, error) {
	inst, w := map[string]int{}, map[string]int{}
	for _, id := range ids {
		inst[id], w[id] = 10, 500
	}
	return inst, w, nil
}
func (fakeProbe) RootKeys() (int, error)         { return 60, nil }
func (fakeProbe) Neighbours(string) (int, error) { return 2, nil }

func TestMeasure(t *testing.T) {
	nodes := []Node{{ID: "a", Name: "c1-control-plane", Cluster: "c1"}, {ID: "b", Name: "c2-control-plane", Cluster: "c2"}, {ID: "c", Name: "c2-worker", Cluster: "c2"}}
	mib := uint64(1 << 20)
	st := &fakeStats{samples: []map[string]Sample{
		{"a": {CPUNanos: 0, AnonBytes: 500 * mib, MemoryBytes: 900 * mib}, "b": {CPUNanos: 1e9, AnonBytes: 400 * mib, MemoryBytes: 500 * mib}, "c": {CPUNanos: 0, AnonBytes: 200 * mib, MemoryBytes: 300 * mib}},
		{"a": {CPUNanos: 2e9, AnonBytes: 700 * mib, MemoryBytes: 1100 * mib}, "b": {CPUNanos: 3e9, AnonBytes: 400 * mib, MemoryBytes: 500 * mib}, "c": {CPUNanos: 1e9, AnonBytes: 200 * mib, MemoryBytes: 300 * mib}},
	}}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	o := Options{Profile: "lean", Lab: "ci-3", Bridge: "br-x", Window: 10 * time.Second,
		Now: func() time.Time { return now },
		Wait: func(_ context.Context, d time.Duration) error {
			now = now.Add(d)
			st.round = 1
			return nil
		}}
	c, err := Measure(context.Background(), st, fakeProbe{}, nodes, o)
	if err != nil {
		t.Fatal(err)
	}
	// c1: 600 MiB anon (1000 working set), 0.2 core; c2: 600 MiB (400+200; 800), 0.3 core.
	want := Costs{Profile: "lean", Source: "measured", Lab: "ci-3", Clusters: 2, Nodes: 3, WindowS: 10,
		MemoryMiB: 600, MemoryMaxMiB: 600, WorkingSetMiB: 900, CPUCores: 0.25, CPUMaxCores: 0.3,
		InotifyInstances: 15, InotifyWatches: 750, Keys: 30, Neighbours: 1.5, BridgePorts: 1.5}
	want.MeasuredAt = c.MeasuredAt
	if !close(c, want) {
		t.Errorf("costs\n got %+v\nwant %+v", c, want)
	}
}

func close(a, b Costs) bool {
	fa := []float64{a.WorkingSetMiB, a.MemoryMiB, a.MemoryMaxMiB, a.CPUCores, a.CPUMaxCores, a.InotifyInstances, a.InotifyWatches, a.Keys, a.Neighbours, a.BridgePorts, a.WindowS}
	fb := []float64{b.WorkingSetMiB, b.MemoryMiB, b.MemoryMaxMiB, b.CPUCores, b.CPUMaxCores, b.InotifyInstances, b.InotifyWatches, b.Keys, b.Neighbours, b.BridgePorts, b.WindowS}
	for i := range fa {
		if math.Abs(fa[i]-fb[i]) > 1e-9 {
			return false
		}
	}
	return a.Profile == b.Profile && a.Source == b.Source && a.Lab == b.Lab && a.Clusters == b.Clusters && a.Nodes == b.Nodes
}

func TestMeasureErrors(t *testing.T) {
	nodes := []Node{{ID: "a", Name: "c1-control-plane", Cluster: "c1"}}
	tests := []struct {
		name string
		st   *fakeStats
		wait func(context.Context, time.Duration) error
		want string
	}{
		{"stats error names the cluster and node", &fakeStats{err: errors.New("no such container")}, nil, `cluster "c1": node c1-control-plane: reading its counters: no such container`},
		{"restart during the window", &fakeStats{samples: []map[string]Sample{{"a": {CPUNanos: 5}}, {"a": {CPUNanos: 1}}}}, nil, "restarted during the measurement"},
		{"cancelled", &fakeStats{samples: []map[string]Sample{{}, {}}}, func(context.Context, time.Duration) error { return context.Canceled }, "measuring the lab's costs: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(0, 0)
			w := tt.wait
			if w == nil {
				w = func(_ context.Context, d time.Duration) error { now = now.Add(d); tt.st.round = 1; return nil }
			}
			_, err := Measure(context.Background(), tt.st, nil, nodes, Options{Now: func() time.Time { return now }, Wait: w})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Measure(context.Background(), &fakeStats{}, nil, nil, Options{}); err == nil {
		t.Error("no nodes: no error")
	}
}

func TestBounds(t *testing.T) {
	h := Host{MemoryMiB: 24576, CPUs: 2, InotifyInstances: 1024, InotifyWatches: 524288, RootMaxKeys: 1000000, GCThresh3: 1024}
	tests := []struct {
		name  string
		c     Costs
		first string
		n     int
	}{
		{"stock binds on idle CPU", Costs{MemoryMiB: 590, CPUCores: 0.19, InotifyInstances: 12, InotifyWatches: 600, Keys: 20, Neighbours: 1, BridgePorts: 1}, "CPU at idle (cores)", 7},
		{"lean binds on memory", Costs{MemoryMiB: 800, CPUCores: 0.02, InotifyInstances: 12, InotifyWatches: 600, Keys: 20, Neighbours: 1, BridgePorts: 1}, "memory (MiB)", 28},
		{"inotify binds", Costs{MemoryMiB: 100, CPUCores: 0.01, InotifyInstances: 100, InotifyWatches: 600, Keys: 20, Neighbours: 1, BridgePorts: 1}, "inotify instances", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Bounds(tt.c, h)
			if len(b) != 7 {
				t.Fatalf("%d bounds, want 7: %+v", len(b), b)
			}
			if b[0].Limit != tt.first || b[0].Clusters != tt.n || b[0].Fix == "" {
				t.Errorf("binding %+v, want %s at %d", b[0], tt.first, tt.n)
			}
			for i := 1; i < len(b); i++ {
				if b[i].Clusters < b[i-1].Clusters {
					t.Errorf("bounds not sorted: %+v", b)
				}
			}
		})
	}
	if b := Bounds(Costs{MemoryMiB: 1, CPUCores: 1, BridgePorts: 1}, Host{}); len(b) != 1 || b[0].Limit != "bridge ports" {
		t.Errorf("a host that reports nothing keeps only the bridge bound: %+v", b)
	}
}

func TestSaveLoad(t *testing.T) {
	root := t.TempDir()
	f, err := Load(root)
	if err != nil || len(f.Profiles) != 0 {
		t.Fatalf("missing file: %v %v", f, err)
	}
	if got := f.For("lean", 1); got.Source != "estimate" {
		t.Errorf("no record: %+v", got)
	}
	c := Costs{Profile: "lean", Source: "measured", Clusters: 3, MemoryMiB: 400, CPUCores: 0.05}
	if err := Save(root, c); err != nil {
		t.Fatal(err)
	}
	if err := Save(root, Costs{Profile: "stock", Source: "measured", Clusters: 3, MemoryMiB: 590, CPUCores: 0.19}); err != nil {
		t.Fatal(err)
	}
	f, err = Load(root)
	if err != nil || f.For("lean", 1).MemoryMiB != 400 || f.For("stock", 1).CPUCores != 0.19 {
		t.Fatalf("round trip: %+v %v", f, err)
	}
	bad := []struct{ name, body, want string }{
		{"not json", "{", "delete it to measure again"},
		{"negative", `{"profiles":{"lean":{"memoryMiB":-1,"cpuCores":1}}}`, `profile "lean"`},
		{"too big", `{"profiles":{}}` + strings.Repeat(" ", 1<<20), "more than a costs file holds"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := t.TempDir()
			if err := os.WriteFile(filepath.Join(r, FileName), []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(r); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestProcFS(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("ab", 32)
	write := func(rel, body string) {
		p := filepath.Join(root, "proc", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("10/cgroup", "0::/system.slice/docker-"+id+".scope/kubelet/kubepods\n")
	write("10/fdinfo/3", "pos:\t0\ninotify wd:1 ino:2\ninotify wd:2 ino:3\n")
	if err := os.MkdirAll(filepath.Join(root, "proc/10/fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("anon_inode:inotify", filepath.Join(root, "proc/10/fd/3")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(root, "proc/10/fd/4")); err != nil {
		t.Fatal(err)
	}
	write("11/cgroup", "0::/user.slice\n")
	write("key-users", "    0:   109 108/108 104/1000000 2303/25000000\n 1000:     1 1/1 1/200 9/20000\n")
	write("net/arp", "IP address       HW type     Flags       HW address            Mask     Device\n172.31.0.2 0x1 0x2 02:42:ac:1f:00:02 * br-1\n172.31.0.3 0x1 0x0 00:00:00:00:00:00 * br-1\n10.0.0.1 0x1 0x2 02:42:ac:1f:00:09 * eth0\n")
	write("sys/fs/inotify/max_user_instances", "1024\n")
	write("sys/net/ipv4/neigh/default/gc_thresh3", "1024\n")
	write("meminfo", "MemTotal:       24576000 kB\n")
	p := ProcFS{Root: root}
	inst, w, err := p.Inotify([]string{id})
	if err != nil || inst[id] != 1 || w[id] != 2 {
		t.Errorf("inotify %v %v %v, want 1 instance, 2 watches", inst, w, err)
	}
	if k, err := p.RootKeys(); err != nil || k != 104 {
		t.Errorf("root keys %d %v, want 104", k, err)
	}
	if n, err := p.Neighbours("br-1"); err != nil || n != 1 {
		t.Errorf("neighbours %d %v, want 1 complete entry", n, err)
	}
	h := HostLimits(os.DirFS(root), 2)
	if h.InotifyInstances != 1024 || h.GCThresh3 != 1024 || h.MemoryMiB != 24000 || h.InotifyWatches != 0 || h.CPUs != 2 {
		t.Errorf("host %+v", h)
	}
}
