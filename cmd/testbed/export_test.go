package main

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// liveHeap is the heap still reachable after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapWriter discards what it is given and samples the live heap every
// MiB, keeping the largest.
type heapWriter struct {
	n, next int
	peak    uint64
}

func (w *heapWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n >= w.next {
		w.peak = max(w.peak, liveHeap())
		w.next = w.n + 1<<20
	}
	return len(p), nil
}

// writeRunsCampaign writes a synthetic campaign of n runs (3 peers).
func writeRunsCampaign(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "c")
	c := stats.Synthesize(stats.SynthOptions{Campaign: "c", Seed: 1, Peers: 3, Runs: n, LossPcts: []float64{0}, IntervalMS: 5000, StartupMS: 900})
	rec, err := store.Create(dir, c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.AppendBatch(context.Background(), c.Runs); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportStreams: export holds one run at a time, whatever the
// campaign's size: from 2000 runs to 20000 its live heap while it writes
// grows by less than a quarter of what holding the runs grows by (measured
// here with store.Read). It read the whole campaign into memory and built
// every row before writing one (5 GB at 10^6 lines).
func TestExportStreams(t *testing.T) {
	const small, large = 2000, 20000
	dirs := map[int]string{small: writeRunsCampaign(t, small), large: writeRunsCampaign(t, large)}
	held, peak := map[int]float64{}, map[int]float64{}
	for n, dir := range dirs {
		before := liveHeap()
		c, err := store.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		held[n] = float64(liveHeap()) - float64(before)
		runtime.KeepAlive(c)
	}
	for n, dir := range dirs {
		for _, format := range []string{formatCSV, formatJSON} {
			base := liveHeap()
			w := &heapWriter{}
			cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: w, ErrOut: &strings.Builder{}})
			cmd.SetArgs([]string{"export", dir, "-o", format})
			if err := cmd.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			peak[n] = max(peak[n], float64(w.peak)-float64(base))
		}
	}
	perRun := (held[large] - held[small]) / (large - small)
	got := (peak[large] - peak[small]) / (large - small)
	if got > perRun/4 {
		t.Errorf("export's live heap grows by %.0f bytes a run; holding the runs grows by %.0f", got, perRun)
	}
	t.Logf("%.0f bytes a run (holding the runs: %.0f)", got, perRun)
}
