package store_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
	"github.com/fluidos-lab/testbed/results/store"
)

// checkFastDecode fails when the fast path accepts a line that
// encoding/json decodes differently (or refuses).
func checkFastDecode(t *testing.T, line []byte) (handled bool) {
	t.Helper()
	var fast, std results.Run
	if !store.FastDecode(line, &fast) {
		return false
	}
	if err := json.Unmarshal(line, &std); err != nil {
		t.Fatalf("fast path accepted %q, encoding/json: %v", line, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("fast path differs on %q:\nfast %+v\njson %+v", line, fast, std)
	}
	return true
}

func synthLines(t testing.TB) [][]byte {
	c := stats.Synthesize(stats.SynthOptions{Seed: 3, Peers: 5, Runs: 20, Warmup: 1, LossPcts: []float64{0, 50}, IntervalMS: 5000,
		StartupMS: 900, TimeoutMS: 12000, FlapProb: 0.3, Wire: true})
	c.Runs[0].Errors = []string{"a \"quoted\" error"} // an escape: left to encoding/json
	c.Runs[1].Missing = []string{"c2"}
	var out [][]byte
	for _, r := range c.Runs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	handled := 0
	for _, l := range synthLines(t) {
		if checkFastDecode(t, l) {
			handled++
		}
	}
	if handled < 40 {
		t.Errorf("fast path handled only %d of 42 recorder lines", handled)
	}
	tricky := []struct {
		line string
		fast bool // whether the fast path should take it
	}{
		{`{"condition":"a","index":1}`, true},
		{` { "condition" : "a" , "index" : 1 , "peers" : [ ] } `, true},
		{`{"condition":"a","index":1,"peers":[],"missing":[],"errors":[]}`, true},
		{`{"condition":"a","index":1,"phaseMS":1234.5}`, true},
		// Keys the fast path does not decode are never dropped: an added
		// field (cycle) or a foreign one goes to encoding/json.
		{`{"condition":"a","index":1,"cycle":{"cycleMS":3000,"resetMS":812,"offCycle":true,"overrunMS":5}}`, false},
		{`{"condition":"a","index":1,"future":{"x":[1,"\u00e9",true,null]}}`, false},
		{`{"condition":"a","index":1,"pauseMS":-0}`, true},
		{`{"condition":"a","index":1,"pauseMS":1.5e3}`, true},
		{`{"condition":"a","index":1,"pauseMS":1234567.8901234567}`, true},
		{`{"condition":"a","index":1,"pauseMS":0.1,"endMS":0.30000000000000004}`, true},
		{`{"condition":"é","index":1,"nodeA":"ü"}`, true},
		{`{"condition":"a","index":1,"started":"2026-01-02T03:04:05.123456789+02:00"}`, true},
		// Left to encoding/json, which must then agree with Read.
		{`{"Condition":"a","index":1}`, false},
		{`{"condition":"a","INDEX":1}`, false},
		{`{"condition":"a","index":1,"index":2}`, false},
		{`{"condition":"a","index":1,"pod":{"leaveMS":null}}`, false},
		{`{"condition":"a\u0062","index":1}`, false},
		{`{"condition":"a","index":1.0}`, false},
		{`{"condition":"a","index":1e2}`, false},
		{`{"condition":"a","index":99999999999999999999}`, false},
		{`{"condition":"a","index":1,"pauseMS":1e400}`, false},
		{`{"condition":"a","index":1,"started":"yesterday"}`, false},
		{`{"condition":"a","index":1,"warmup":"true"}`, false},
		{`{"condition":"a","index":1} x`, false},
		{`{"condition":"a","index":01}`, false},
		{"{\"condition\":\"a\xff\",\"index\":1}", false},
		{`{"condition":"a","index":1,"peers":[null]}`, false},
		{`{"condition":"a","index":1,"ſtarted":"2026-01-02T03:04:05Z"}`, false},
		// The wire capture's fields.
		{`{"condition":"a","index":1,"wire":{}}`, true},
		{`{"condition":"a","index":1,"wire":{"interface":"br-1","group":"239.1.1.1:4000","packets":3,"kernelDropped":2,"lost":1,"counterWindowLost":3,"senders":[{"cluster":"c","address":"10.0.0.1","announcements":2,"bytes":80,"phaseMS":12.5}]}}`, true},
		{`{"condition":"a","index":1,"peers":[{"peer":"p","discoveredMS":5,"wire":{"readyMS":1,"readyBy":"igmp-join","firstMS":4,"lost":0,"periodMS":5000,"startupMS":1,"waitMS":3,"lostMS":0,"processingMS":1},"reverseWire":{"readyBy":"listening"}}]}`, true},
		{`{"condition":"a","index":1,"wire":{"kernelDropped":-1}}`, false},
		{`{"condition":"a","index":1,"wire":{"windowLossPct":null}}`, false},
		{`{"condition":"a","index":1,"wire":{"future":1}}`, false},
		{`{"condition":"a","index":1,"peers":[{"peer":"p","wire":{"lost":1.5}}]}`, false},
	}
	for _, tc := range tricky {
		if got := checkFastDecode(t, []byte(tc.line)); got != tc.fast {
			t.Errorf("%s: fast path taken = %v, want %v", tc.line, got, tc.fast)
		}
		// Whatever the path, ReadRuns decodes like encoding/json.
		runs, _, err := store.ReadRuns(strings.NewReader(tc.line + "\n"))
		var std results.Run
		jerr := json.Unmarshal([]byte(strings.TrimSpace(tc.line)), &std)
		if (err != nil) != (jerr != nil) {
			t.Errorf("%s: ReadRuns %v, encoding/json %v", tc.line, err, jerr)
		}
		if jerr != nil && err != nil && !strings.Contains(err.Error(), jerr.Error()) {
			t.Errorf("%s: ReadRuns error %q is not encoding/json's %q", tc.line, err, jerr)
		}
		if err == nil && jerr == nil && !reflect.DeepEqual(runs[0], std) {
			t.Errorf("%s: ReadRuns %+v, encoding/json %+v", tc.line, runs[0], std)
		}
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, l := range synthLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"condition":"a","index":1,"peers":[{"peer":"p","flaps":[{"deletedMS":1,"readdedMS":2}]}]}`))
	f.Fuzz(func(t *testing.T, line []byte) { checkFastDecode(t, line) })
}

func BenchmarkDecodeRun(b *testing.B) {
	c := stats.Synthesize(stats.SynthOptions{Seed: 1, Peers: 23, Runs: 500, LossPcts: []float64{10}, IntervalMS: 5000, StartupMS: 900,
		StartupJitterMS: 100, FlapProb: 0.02})
	var lines [][]byte
	size := 0
	for _, r := range c.Runs {
		l, _ := json.Marshal(r)
		lines = append(lines, l)
		size += len(l)
	}
	b.Run("fast", func(b *testing.B) {
		var d store.FastDecoder
		b.SetBytes(int64(size / len(lines)))
		for i := 0; b.Loop(); i++ {
			var r results.Run
			if !d.Decode(lines[i%len(lines)], &r) {
				b.Fatal("not handled")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(size / len(lines)))
		for i := 0; b.Loop(); i++ {
			var r results.Run
			if err := json.Unmarshal(lines[i%len(lines)], &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestWireTimesOutOfRange(t *testing.T) {
	for _, line := range []string{
		`{"condition":"a","index":1,"peers":[{"peer":"p","wire":{"waitMS":1e300}}]}`,
		`{"condition":"a","index":1,"peers":[{"peer":"p","reverseWire":{"processingMS":-1e13}}]}`,
		`{"condition":"a","index":1,"wire":{"clockStepUS":1e20}}`,
	} {
		if _, _, err := store.ReadRuns(strings.NewReader(line + "\n")); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: error %v, want out of range", line, err)
		}
	}
}
