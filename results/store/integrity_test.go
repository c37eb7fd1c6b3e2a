package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// writeCampaign writes a campaign directory with conditions a (1 warm-up +
// 3 runs planned) and b (2 runs) and the given runs.jsonl content.
func writeCampaign(t *testing.T, runs string) string {
	t.Helper()
	dir := t.TempDir()
	m := results.Manifest{Campaign: "c", Peers: []string{"p", "q"}, AnnounceIntervalMS: 1000, Conditions: []results.Condition{
		{Name: "a", Runs: 3, Warmup: 1}, {Name: "b", Runs: 2}}}
	if err := store.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.FileRuns), []byte(runs), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func line(cond string, index int, extra string) string {
	s := `{"condition":"` + cond + `","index":` + itoa(index) + `,"peers":[{"peer":"p","discoveredMS":10},{"peer":"q","discoveredMS":20}]`
	return s + extra + "}\n"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestCampaignIntegrity(t *testing.T) {
	tests := []struct {
		name  string
		runs  string
		err   []string // substrings of the error; none: no error
		warns []string // one substring per expected warning
		kept  int
	}{
		{name: "clean", runs: line("a", 0, "") + line("a", 1, "") + line("b", 0, ""), kept: 3},
		{name: "duplicated run", runs: line("a", 0, "") + line("a", 1, "") + line("a", 1, ""),
			err: []string{"runs.jsonl: line 3: run a/1 is recorded twice (first at line 2)"}},
		{name: "aborted run re-run on resume", runs: line("a", 0, "") + line("a", 1, `,"aborted":true`) + line("a", 1, ""), kept: 3},
		{name: "aborted twice then completed", runs: line("a", 1, `,"aborted":true`) + line("a", 1, `,"aborted":true`) + line("a", 1, ""), kept: 3},
		{name: "duplicate after a re-run", runs: line("a", 1, `,"aborted":true`) + line("a", 1, "") + line("a", 1, ""),
			err: []string{"line 3: run a/1 is recorded twice (first at line 2)"}},
		{name: "index 2^63-1", runs: line("a", math.MaxInt64, ""),
			err: []string{"runs.jsonl: line 1: run a/9223372036854775807: index 9223372036854775807 is impossible: manifest.json plans 4 runs (warm-up included) for condition a, so indices 0..3"}},
		{name: "index one past the plan", runs: line("a", 3, "") + line("a", 4, ""), err: []string{"line 2: run a/4: index 4 is impossible"}},
		{name: "unplanned condition", runs: line("z", 0, ""), kept: 1, warns: []string{"line 1: condition z is not listed in manifest.json"}},
		{name: "unplanned condition beyond the absolute bound", runs: line("z", store.MaxRunIndex+1, ""), err: []string{"index 16777216 is beyond the limit of 16777215"}},
		{name: "negative discovery time", runs: line("a", 0, "") + `{"condition":"a","index":1,"peers":[{"peer":"p","discoveredMS":-5}]}` + "\n",
			kept: 1, warns: []string{"line 2: run a/1 skipped by every reader: peers[0] (p) discoveredMS = -5 is negative"}},
		{name: "negative time re-run", runs: `{"condition":"a","index":1,"peers":[{"peer":"p","reverseMS":-1}]}` + "\n" + line("a", 1, ""),
			kept: 1, warns: []string{"reverseMS = -1 is negative"}},
		{name: "truncated last line", runs: line("a", 0, "") + `{"condition":"a","ind`, kept: 1,
			warns: []string{"runs.jsonl: line 2: truncated last line skipped"}},
		{name: "malformed middle line", runs: line("a", 0, "") + "{\n" + line("a", 1, ""), err: []string{"runs.jsonl: line 2:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCampaign(t, tc.runs)
			c, err := store.Read(dir)
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("accepted: %d runs, warnings %q", len(c.Runs), c.Warnings)
				}
				for _, w := range append(tc.err, filepath.Join(dir, store.FileRuns)) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				var le *store.LineError
				if !errors.As(err, &le) || le.File != filepath.Join(dir, store.FileRuns) {
					t.Errorf("not a LineError naming the file: %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Runs) != tc.kept || len(c.Warnings) != len(tc.warns) {
				t.Fatalf("%d runs, warnings %q; want %d runs, %d warnings", len(c.Runs), c.Warnings, tc.kept, len(tc.warns))
			}
			for i, w := range tc.warns {
				if !strings.Contains(c.Warnings[i], w) || !strings.Contains(c.Warnings[i], filepath.Join(dir, store.FileRuns)) {
					t.Errorf("warning %q lacks %q or the file", c.Warnings[i], w)
				}
			}
			if _, next, _ := store.ResumePoint(c.Runs); next["a"] < 0 || next["a"] > 4 {
				t.Errorf("resume point %v", next)
			}
		})
	}
}

// Every reader refuses the same campaigns and prints the same warnings.
func TestEveryReaderWarnsAlike(t *testing.T) {
	runs := line("a", 0, "") + line("a", 1, "") + `{"condition":"b","index":0,"peers":[{"peer":"p","discoveredMS":-3}]}` + "\n" +
		line("b", 1, "") + line("z", 0, "") + `{"condition":"a","index":2,"pe`
	dir := writeCampaign(t, runs)
	rc, err := store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := rc.Warnings
	if len(want) != 3 {
		t.Fatalf("Read warnings %q, want the negative time, the unplanned condition and the truncated line", want)
	}
	var buf bytes.Buffer
	rc.WriteWarnings(&buf)
	if got := strings.Count(buf.String(), "warning: "+filepath.Join(dir, store.FileRuns)+": line "); got != 3 {
		t.Errorf("WriteWarnings:\n%s", buf.String())
	}
	sc, err := store.Scan(dir, func(*results.Run) error { return nil })
	if err != nil || !slices.Equal(sc.Warnings, want) {
		t.Errorf("Scan: %q, %v", sc.Warnings, err)
	}
	sum, ac, err := stats.AnalyzeDir(t.Context(), dir)
	if err != nil || !slices.Equal(ac.Warnings, want) || !slices.Equal(sum.Warnings[:3], want) {
		t.Errorf("AnalyzeDir: %q / %q, %v", ac.Warnings, sum.Warnings, err)
	}
	if mem := stats.Analyze(rc); !slices.Equal(mem.Warnings[:3], want) {
		t.Errorf("Analyze(Read): %q", mem.Warnings)
	}
	col, _, err := stats.CollectDir(t.Context(), dir)
	if err != nil || !slices.Equal(col.Warnings, want) {
		t.Errorf("CollectDir: %q, %v", col.Warnings, err)
	}
	res, err := compare.Dirs(t.Context(), dir, dir, compare.Options{Alpha: 0.05, Bootstrap: 100})
	if err != nil || !slices.Equal(res.Warnings, append(slices.Clone(want), want...)) {
		t.Errorf("compare.Dirs (baseline and candidate): %q, %v", res.Warnings, err)
	}
	var out bytes.Buffer
	ec, err := store.ExportDir(t.Context(), &out, dir, store.FormatCSV)
	if err != nil || !slices.Equal(ec.Warnings, want) {
		t.Errorf("ExportDir: %q, %v", ec.Warnings, err)
	}
	// The skipped run is in no reader's output.
	if strings.Contains(out.String(), "-3") || sum.Conditions[1].Runs != 1 {
		t.Errorf("skipped run read: export %q, b runs %d", out.String(), sum.Conditions[1].Runs)
	}

	// A refused campaign is refused by every reader, and export writes nothing.
	bad := writeCampaign(t, line("a", 0, "")+line("a", 0, ""))
	out.Reset()
	for name, err := range map[string]error{
		"Read":       second(store.Read(bad)),
		"AnalyzeDir": third(stats.AnalyzeDir(t.Context(), bad)),
		"CollectDir": third(stats.CollectDir(t.Context(), bad)),
		"Dirs":       second(compare.Dirs(t.Context(), dir, bad, compare.Options{Alpha: 0.05, Bootstrap: 100})),
		"ExportDir":  second(store.ExportDir(t.Context(), &out, bad, store.FormatJSON)),
	} {
		if err == nil || !strings.Contains(err.Error(), "recorded twice") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("export wrote %d bytes of a refused campaign", out.Len())
	}
}

func second[A, B any](_ A, b B) B        { return b }
func third[A, B, C any](_ A, _ B, c C) C { return c }

func TestLimits(t *testing.T) {
	t.Run("line longer than the limit", func(t *testing.T) {
		long := `{"condition":"a","index":1,"errors":["` + strings.Repeat("x", store.MaxLineBytes) + `"]}` + "\n"
		dir := writeCampaign(t, line("a", 0, "")+long)
		_, err := store.Read(dir)
		for _, w := range []string{filepath.Join(dir, store.FileRuns), "line 2", "longer than the limit of 1048576 bytes"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v lacks %q", err, w)
			}
		}
		if _, _, err := stats.AnalyzeDir(t.Context(), dir); err == nil {
			t.Error("AnalyzeDir accepted the long line")
		}
	})
	t.Run("line exactly at the limit", func(t *testing.T) {
		l := line("a", 0, "")
		pad := strings.Repeat(" ", store.MaxLineBytes-(len(l)-1))
		c, err := store.Read(writeCampaign(t, pad+l))
		if err != nil || len(c.Runs) != 1 {
			t.Fatalf("%v", err)
		}
	})
	t.Run("manifest larger than the limit", func(t *testing.T) {
		dir := t.TempDir()
		m := results.Manifest{Campaign: "c", Inputs: []results.Input{{Content: strings.Repeat("y", store.MaxManifestBytes)}}}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, store.FileManifest), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := store.Read(dir)
		if err == nil || !strings.Contains(err.Error(), "larger than the limit of 33554432 bytes") {
			t.Errorf("Read: %v", err)
		}
	})
}

func TestStreamPassesAgree(t *testing.T) {
	dir := writeCampaign(t, line("a", 0, "")+line("a", 1, ""))
	st, err := store.OpenStream(dir)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (n int, err error) {
		err = st.EachTransient(t.Context(), func(*results.Run) error { n++; return nil })
		return
	}
	if n, err := count(); n != 2 || err != nil {
		t.Fatalf("first pass: %d, %v", n, err)
	}
	// Appending does not change later passes: they read the first's bytes.
	f, _ := os.OpenFile(filepath.Join(dir, store.FileRuns), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line("a", 2, ""))
	f.Close()
	if n, err := count(); n != 2 || err != nil {
		t.Fatalf("second pass: %d, %v", n, err)
	}
	// Rewriting does.
	os.WriteFile(filepath.Join(dir, store.FileRuns), []byte(line("b", 0, "")+line("b", 1, "")), 0o644)
	if _, err := count(); err == nil || !strings.Contains(err.Error(), "changed between two passes") {
		t.Errorf("rewritten file: %v", err)
	}
	// A visit error stops the pass and is returned as is.
	sentinel := errors.New("stop")
	if err := st.Each(t.Context(), func(*results.Run) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("visit error: %v", err)
	}
}

func TestExportDirMatchesExportRows(t *testing.T) {
	for _, noPeers := range []bool{false, true} {
		c := stats.Synthesize(stats.SynthOptions{Seed: 4, Peers: 3, Runs: 5, Warmup: 1, LossPcts: []float64{0, 60}, IntervalMS: 5000,
			StartupMS: 900, TimeoutMS: 9000, FlapProb: 0.3})
		if noPeers {
			c.Manifest.Peers = nil
		}
		dir := t.TempDir()
		rec, err := store.Create(dir, c.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.AppendBatch(t.Context(), c.Runs); err != nil {
			t.Fatal(err)
		}
		rec.Close()
		read, err := store.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		rows := store.ExportRows(read)
		for _, f := range []string{store.FormatCSV, store.FormatJSON} {
			var want, got bytes.Buffer
			if f == store.FormatCSV {
				store.WriteCSV(&want, rows)
			} else {
				store.WriteJSON(&want, rows)
			}
			if _, err := store.ExportDir(t.Context(), &got, dir, f); err != nil {
				t.Fatal(err)
			}
			if want.String() != got.String() {
				t.Errorf("noPeers=%v %s: streamed export differs:\n%s\nwant\n%s", noPeers, f, got.String(), want.String())
			}
		}
	}
	// Empty campaign.
	dir := writeCampaign(t, "")
	for f, want := range map[string]string{store.FormatJSON: "[]\n"} {
		var got bytes.Buffer
		if _, err := store.ExportDir(t.Context(), &got, dir, f); err != nil || got.String() != want {
			t.Errorf("%s: %q %v", f, got.String(), err)
		}
	}
	if _, err := store.ExportDir(t.Context(), &bytes.Buffer{}, dir, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestCheckerInMemory(t *testing.T) {
	m := results.Manifest{Conditions: []results.Condition{{Name: "a", Runs: 2}}}
	ck := store.NewChecker("mem", &m)
	nan := math.NaN()
	for i, tc := range []struct {
		r       results.Run
		ok, err bool
	}{
		{results.Run{Condition: "a", Index: 0}, true, false},
		{results.Run{Condition: "a", Index: 1, Peers: []results.PeerTiming{{Peer: "p", DiscoveredMS: &nan}}}, false, false},
		{results.Run{Condition: "a", Index: 1, EndMS: math.Inf(1)}, false, false},
		{results.Run{Condition: "a", Index: 1}, true, false},
		{results.Run{Condition: "a", Index: 1}, false, true},
		{results.Run{Condition: "a", Index: 2}, false, true},
		{results.Run{Condition: "", Index: 0}, false, true},
	} {
		ok, err := ck.Check(i+1, &tc.r)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("run %d: ok=%v err=%v", i+1, ok, err)
		}
	}
	if w := ck.Warnings(); len(w) != 2 || !strings.Contains(w[0], "mem: line 2: run a/1 skipped by every reader: peers[0] (p) discoveredMS = NaN is not a finite number") {
		t.Errorf("warnings %q", w)
	}
}

func TestDuplicateFarIndex(t *testing.T) {
	// An index first seen far ahead (kept sparsely) is still found once
	// the dense part has grown past it.
	m := results.Manifest{}
	ck := store.NewChecker("mem", &m)
	far := 10_000
	if ok, err := ck.Check(1, &results.Run{Condition: "a", Index: far}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for i := 0; i <= far; i++ {
		if i == far {
			if _, err := ck.Check(i+2, &results.Run{Condition: "a", Index: i}); err == nil || !strings.Contains(err.Error(), "first at line 1") {
				t.Fatalf("duplicate of the far index: %v", err)
			}
			break
		}
		if _, err := ck.Check(i+2, &results.Run{Condition: "a", Index: i}); err != nil {
			t.Fatal(err)
		}
	}
}

// checksCtx is a context whose Err reports context.Canceled from its
// cancelAt-th call on, and counts the calls: a deterministic "Ctrl-C
// while reading".
type checksCtx struct {
	context.Context
	cancelAt, calls int
}

func (c *checksCtx) Err() error {
	c.calls++
	if c.calls >= c.cancelAt {
		return context.Canceled
	}
	return nil
}

// TestEveryReaderStopsWhenCancelled: every streaming reader of a campaign
// (report's, compare's, export's, runs ls's) takes a context and stops at
// the check that finds it ended, a few hundred lines into a 20000-line
// campaign, with context.Canceled: the context ends at its third check
// (before the file, its first line, line CheckEvery+1), and a reader that
// went on would check it 80 times. Export writes nothing. Before, none of
// them took a context, and an interrupted reader read to the end.
func TestEveryReaderStopsWhenCancelled(t *testing.T) {
	const runs = 20000
	dir := t.TempDir()
	m := results.Manifest{Campaign: "c", Peers: []string{"p", "q"}, AnnounceIntervalMS: 1000, Conditions: []results.Condition{{Name: "a", Runs: runs}}}
	if err := store.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range runs {
		b.WriteString(line("a", i, ""))
	}
	if err := os.WriteFile(filepath.Join(dir, store.FileRuns), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	readers := []struct {
		name string
		read func(ctx context.Context) error
	}{
		{"stats.AnalyzeDir", func(ctx context.Context) error { return third(stats.AnalyzeDir(ctx, dir)) }},
		{"stats.CollectDir", func(ctx context.Context) error { return third(stats.CollectDir(ctx, dir)) }},
		{"compare.Dirs", func(ctx context.Context) error {
			return second(compare.Dirs(ctx, dir, dir, compare.Options{Alpha: 0.05, Bootstrap: 100}))
		}},
		{"store.ExportDir", func(ctx context.Context) error { return second(store.ExportDir(ctx, &out, dir, store.FormatCSV)) }},
		{"store.Describe", func(ctx context.Context) error { return second(store.Describe(ctx, dir)) }},
		{"Stream.Each", func(ctx context.Context) error {
			st, err := store.OpenStream(dir)
			if err != nil {
				return err
			}
			return st.Each(ctx, func(*results.Run) error { return nil })
		}},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			full := &checksCtx{Context: context.Background(), cancelAt: math.MaxInt}
			if err := r.read(full); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			ctx := &checksCtx{Context: context.Background(), cancelAt: 3}
			err := r.read(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if ctx.calls != 3 || full.calls < runs/store.CheckEvery {
				t.Errorf("the context was checked %d times after it ended at the 3rd check (a whole read checks it %d times)", ctx.calls, full.calls)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes", out.Len())
			}
		})
	}
}

// liveHeap is the heap still reachable after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapCtx samples the live heap each time a reader checks it (every
// store.CheckEvery lines) and keeps the largest.
type heapCtx struct {
	context.Context
	peak uint64
}

func (c *heapCtx) Err() error {
	c.peak = max(c.peak, liveHeap())
	return nil
}

// writeRuns writes a campaign of n runs of condition a (two peers each).
func writeRuns(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	m := results.Manifest{Campaign: "c", Peers: []string{"p", "q"}, AnnounceIntervalMS: 1000, Conditions: []results.Condition{{Name: "a", Runs: n}}}
	if err := store.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range n {
		b.WriteString(line("a", i, ""))
	}
	if err := os.WriteFile(filepath.Join(dir, store.FileRuns), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadersHoldSamplesNotRuns: while they read, the streaming readers
// (report's, compare's, export's, runs ls's) hold at most their samples, a
// few float64s a run, never the runs: from a campaign of 2000 runs to one
// of 20000 their live heap, sampled at every context check, grows by less
// than a quarter of what holding the runs grows by (store.Read, measured
// here). A reader that read the campaign into memory (as export did, with
// 5 GB at 10^6 lines) fails.
func TestReadersHoldSamplesNotRuns(t *testing.T) {
	const small, large = 2000, 20000
	dirs := map[int]string{small: writeRuns(t, small), large: writeRuns(t, large)}
	held := map[int]uint64{}
	for n, dir := range dirs {
		before := liveHeap()
		c, err := store.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		held[n] = liveHeap() - before
		runtime.KeepAlive(c)
	}
	perRun := float64(held[large]-held[small]) / (large - small)
	readers := []struct {
		name string
		read func(ctx context.Context, dir string) error
	}{
		{"stats.AnalyzeDir", func(ctx context.Context, dir string) error { return third(stats.AnalyzeDir(ctx, dir)) }},
		{"stats.CollectDir", func(ctx context.Context, dir string) error { return third(stats.CollectDir(ctx, dir)) }},
		{"compare.Dirs", func(ctx context.Context, dir string) error {
			return second(compare.Dirs(ctx, dir, dir, compare.Options{Alpha: 0.05, Bootstrap: 100}))
		}},
		{"store.ExportDir", func(ctx context.Context, dir string) error {
			return second(store.ExportDir(ctx, io.Discard, dir, store.FormatCSV))
		}},
		{"store.Describe", func(ctx context.Context, dir string) error { return second(store.Describe(ctx, dir)) }},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			peak := map[int]uint64{}
			for n, dir := range dirs {
				base := liveHeap()
				ctx := &heapCtx{Context: context.Background()}
				if err := r.read(ctx, dir); err != nil {
					t.Fatal(err)
				}
				peak[n] = ctx.peak - min(base, ctx.peak)
			}
			got := (float64(peak[large]) - float64(peak[small])) / (large - small)
			if got > perRun/4 {
				t.Errorf("live heap grows by %.0f bytes a run while reading; holding the runs grows by %.0f", got, perRun)
			}
			t.Logf("%.0f bytes a run (holding the runs: %.0f)", got, perRun)
		})
	}
}
