package compare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// BenchmarkLargeCampaign measures the streaming readers on a generated
// campaign: by default 10^6 lines (4 conditions × 250000 runs, 23 peers,
// about 2.3 KB a line) for the baseline and as many for a candidate
// shifted by 300 ms. It reports seconds and the peak heap (HeapInuse
// sampled every 10 ms) of stats.AnalyzeDir and of Dirs (both campaigns).
//
//	go test -run '^$' -bench LargeCampaign -benchtime 1x ./results/compare/
//
// TESTBED_BENCH_LINES and TESTBED_BENCH_PEERS change the size;
// TESTBED_BENCH_DIR keeps the generated campaigns there (and reuses them)
// instead of a temporary directory. Generation is not timed.
func BenchmarkLargeCampaign(b *testing.B) {
	lines := envInt(b, "TESTBED_BENCH_LINES", 1_000_000)
	peers := envInt(b, "TESTBED_BENCH_PEERS", 23)
	const conds = 4
	root := os.Getenv("TESTBED_BENCH_DIR")
	if root == "" {
		root = b.TempDir()
	}
	base := filepath.Join(root, fmt.Sprintf("base-%d-%d", lines, peers))
	cand := filepath.Join(root, fmt.Sprintf("cand-%d-%d", lines, peers))
	for i, dir := range []string{base, cand} {
		if _, err := os.Stat(filepath.Join(dir, store.FileRuns)); err == nil {
			continue
		}
		t0 := time.Now()
		writeLargeCampaign(b, dir, uint64(i+1), float64(300*i), conds, lines/conds, peers)
		b.Logf("generated %s in %v", dir, time.Since(t0).Round(time.Millisecond))
	}
	b.Run("analyze", func(b *testing.B) {
		for b.Loop() {
			var s *stats.Summary
			peak, d := measure(func() {
				var err error
				if s, _, err = stats.AnalyzeDir(context.Background(), base); err != nil {
					b.Fatal(err)
				}
			})
			if len(s.Conditions) != conds || s.Conditions[0].Runs != lines/conds {
				b.Fatalf("analysed %d conditions", len(s.Conditions))
			}
			b.ReportMetric(d.Seconds(), "s/analyze")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		}
	})
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			var r *Result
			peak, d := measure(func() {
				var err error
				if r, err = Dirs(context.Background(), base, cand, Options{Alpha: DefaultAlpha, Bootstrap: DefaultBootstrap, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			})
			if len(r.Rows) != conds*(3+peers) || len(r.Regressions()) == 0 {
				b.Fatalf("%d rows, %d regressions", len(r.Rows), len(r.Regressions()))
			}
			b.ReportMetric(d.Seconds(), "s/compare")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		}
	})
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// writeLargeCampaign writes conds × runs runs with the store, drawing them
// from the model in chunks (never the whole campaign in memory).
func writeLargeCampaign(b *testing.B, dir string, seed uint64, shiftMS float64, conds, runs, peers int) {
	b.Helper()
	const chunk = 5000
	var losses []float64
	for i := 0; i < conds; i++ {
		losses = append(losses, float64(10*i))
	}
	o := stats.SynthOptions{Campaign: fmt.Sprintf("large-%d", seed), Seed: seed, Peers: peers, LossPcts: losses,
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 100, AgentInitMS: 50, ShiftMS: shiftMS, FlapProb: 0.02}
	m := stats.Synthesize(o).Manifest
	for i := range m.Conditions {
		m.Conditions[i].Runs = runs
	}
	rec, err := store.Create(dir, m)
	if err != nil {
		b.Fatal(err)
	}
	for ci, loss := range losses {
		for off := 0; off < runs; off += chunk {
			co := o
			co.Seed = seed*1_000_003 + uint64(ci)*10_007 + uint64(off)
			co.LossPcts = []float64{loss}
			co.Runs = min(chunk, runs-off)
			part := stats.Synthesize(co).Runs
			for i := range part {
				part[i].Index += off
			}
			if err := rec.AppendBatch(context.Background(), part); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
}

// measure runs f after a GC and returns the largest HeapInuse seen while
// it ran (sampled every 10 ms) and its duration.
func measure(f func()) (peak uint64, d time.Duration) {
	runtime.GC()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	t0 := time.Now()
	f()
	d = time.Since(t0)
	close(done)
	wg.Wait()
	return peak, d
}
