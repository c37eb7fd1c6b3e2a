package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

func TestRecorderRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "camp")
	c := stats.Synthesize(stats.SynthOptions{Seed: 1, Peers: 3, Runs: 4, Warmup: 1, LossPcts: []float64{0, 10}, IntervalMS: 5000, StartupMS: 900})
	rec, err := store.Create(dir, c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range c.Runs {
		if err := rec.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(dir, c.Manifest); err == nil {
		t.Fatal("Create over an existing campaign succeeded")
	}
	got, err := store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != len(c.Runs) || len(got.Warnings) != 0 {
		t.Fatalf("read %d runs, %v warnings; want %d, none", len(got.Runs), got.Warnings, len(c.Runs))
	}
	want, _ := json.Marshal(c.Runs)
	have, _ := json.Marshal(got.Runs)
	if string(want) != string(have) {
		t.Fatal("runs differ after round trip")
	}
	if got.Manifest.Campaign != c.Manifest.Campaign || len(got.Manifest.Conditions) != 2 {
		t.Fatalf("manifest not round-tripped: %+v", got.Manifest)
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestOpenCampaignRepairsTruncatedTail(t *testing.T) {
	dir := t.TempDir()
	c := stats.Synthesize(stats.SynthOptions{Seed: 2, Peers: 2, Runs: 3, LossPcts: []float64{5}, IntervalMS: 5000, StartupMS: 900})
	rec, err := store.Create(dir, c.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Runs[:2] {
		if err := rec.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	rec.Close()
	// Simulate a crash in the middle of the third line.
	f, _ := os.OpenFile(filepath.Join(dir, store.FileRuns), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"campaign":"synthetic","condition":"loss-5","ind`)
	f.Close()

	rec, got, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 2 || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "line 3") {
		t.Fatalf("got %d runs, warnings %q", len(got.Runs), got.Warnings)
	}
	last, next, ok := store.ResumePoint(got.Runs)
	if !ok || last != (store.Position{Condition: "loss-5", Index: 1}) || next["loss-5"] != 2 {
		t.Fatalf("resume point %v %v %v", last, next, ok)
	}
	if err := rec.Append(context.Background(), c.Runs[2]); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	got, err = store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 3 || len(got.Warnings) != 0 || got.Runs[2].Index != 2 {
		t.Fatalf("after resume: %d runs, warnings %q", len(got.Runs), got.Warnings)
	}
}

func TestAppendHonoursContext(t *testing.T) {
	rec, err := store.Create(t.TempDir(), results.Manifest{Campaign: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.Append(ctx, results.Run{Condition: "a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append on cancelled context: %v", err)
	}
}

func TestReadRuns(t *testing.T) {
	ok1 := `{"condition":"a","index":0}`
	ok2 := `{"condition":"a","index":1,"peers":[{"peer":"p","discoveredMS":12.5}]}`
	tests := []struct {
		name     string
		in       string
		runs     int
		warns    int
		errLine  int
		errMatch string
	}{
		{name: "empty", in: ""},
		{name: "two lines", in: ok1 + "\n" + ok2 + "\n", runs: 2},
		{name: "last line complete without newline", in: ok1 + "\n" + ok2, runs: 2},
		{name: "blank lines skipped", in: ok1 + "\n\n  \n" + ok2 + "\n", runs: 2},
		{name: "truncated last line", in: ok1 + "\n" + ok2[:20], runs: 1, warns: 1},
		{name: "malformed middle line", in: ok1 + "\n{\"condition\":\n" + ok2 + "\n", errLine: 2},
		{name: "malformed last line with newline", in: ok1 + "\n" + ok2[:20] + "\n", errLine: 2},
		{name: "not an object", in: "[1,2]\n", errLine: 1, errMatch: "not a JSON object"},
		{name: "null", in: "null\n", errLine: 1},
		{name: "missing condition", in: `{"index":3}` + "\n", errLine: 1, errMatch: "no condition"},
		{name: "negative index", in: `{"condition":"a","index":-1}` + "\n", errLine: 1, errMatch: "negative index"},
		{name: "wrong type", in: ok1 + "\n" + `{"condition":"a","index":"x"}` + "\n", errLine: 2},
		{name: "trailing garbage", in: ok1 + " x\n", errLine: 1},
		{name: "absurd time", in: `{"condition":"a","index":0,"peers":[{"peer":"p","discoveredMS":1e300}]}` + "\n", errLine: 1, errMatch: "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, warns, err := store.ReadRuns(strings.NewReader(tc.in))
			if tc.errLine > 0 {
				var le *store.LineError
				if !errors.As(err, &le) || le.Line != tc.errLine {
					t.Fatalf("err = %v, want line %d", err, tc.errLine)
				}
				if tc.errMatch != "" && !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("err = %v, want %q", err, tc.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != tc.runs || len(warns) != tc.warns {
				t.Fatalf("runs=%d warns=%v, want %d, %d", len(runs), warns, tc.runs, tc.warns)
			}
		})
	}
}

func FuzzReadRuns(f *testing.F) {
	f.Add([]byte(`{"condition":"a","index":0}` + "\n"))
	f.Add([]byte(`{"condition":"a","index":1,"peers":[{"peer":"p","discoveredMS":1.5,"flaps":[{"observer":"a","subject":"p","deletedMS":3}]}]}` + "\n{\"cond"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"condition":"a","index":0,"impairment":{"lossPct":10,"achievedLossPct":9.5}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		runs, warns, err := store.ReadRuns(strings.NewReader(string(data)))
		if err != nil {
			var le *store.LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line number: %v", err)
			}
			return
		}
		if len(warns) > 1 {
			t.Fatalf("more than one warning: %q", warns)
		}
		if len(warns) == 1 && (len(data) == 0 || data[len(data)-1] == '\n') {
			t.Fatalf("truncation warning for input ending in a newline: %q", warns)
		}
		// Every accepted run re-encodes and reads back identically.
		var b strings.Builder
		for _, r := range runs {
			if r.Condition == "" || r.Index < 0 {
				t.Fatalf("accepted invalid run %+v", r)
			}
			line, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("re-encoding accepted run: %v", err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		again, warns2, err := store.ReadRuns(strings.NewReader(b.String()))
		if err != nil || len(warns2) != 0 || len(again) != len(runs) {
			t.Fatalf("re-read of accepted runs: %d runs, %v, %v", len(again), warns2, err)
		}
		// Analysis never panics on accepted input, and its summary encodes
		// (no NaN or Inf).
		s := stats.Analyze(&store.Campaign{Runs: runs, Manifest: results.Manifest{AnnounceIntervalMS: 1000}})
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("summary of accepted runs does not encode: %v", err)
		}
	})
}

func TestOpenCampaignKeepsCompleteUnterminatedLine(t *testing.T) {
	dir := t.TempDir()
	c := stats.Synthesize(stats.SynthOptions{Seed: 2, Peers: 2, Runs: 3, LossPcts: []float64{5}, IntervalMS: 5000, StartupMS: 900})
	if err := store.WriteManifest(dir, c.Manifest); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, r := range c.Runs[:2] {
		line, _ := json.Marshal(r)
		b.Write(line)
		if i == 0 {
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(filepath.Join(dir, store.FileRuns), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, got, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 2 || len(got.Warnings) != 0 {
		t.Fatalf("opened %d runs, warnings %q", len(got.Runs), got.Warnings)
	}
	if err := rec.Append(context.Background(), c.Runs[2]); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	again, err := store.Read(dir)
	if err != nil || len(again.Runs) != 3 || len(again.Warnings) != 0 {
		t.Fatalf("after append: %d runs, %q, %v", len(again.Runs), again.Warnings, err)
	}
}
