package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// demoTestSteps are the demo's steps with their expectations (285 s).
var demoTestSteps = []demoStep{{"up", nil, 100 * time.Second}, {"selftest", nil, 15 * time.Second},
	{"run", nil, 150 * time.Second}, {"report", nil, 10 * time.Second}, {"down", nil, 10 * time.Second}}

// driveDemoProgress reports the first and the last step and the end, the
// steps before the last having gone twice as slow as expected.
func driveDemoProgress(p demoProgress) {
	p.step(0, 0, 0)
	p.step(4, 275*time.Second, 550*time.Second)
	p.done(560 * time.Second)
}

// TestDemoProgressNotATerminal: when the demo's progress goes anywhere but a
// terminal (a pipe or buffer, a file, /dev/null: CI, tests, logs) it is a
// plain line per step, with the ETA, which the e2e demo test matches.
func TestDemoProgressNotATerminal(t *testing.T) {
	want := "demo: step 1/5 up, 0s elapsed, about 4m45s left\n" +
		"demo: step 5/5 down, 9m10s elapsed, about 20s left\n" +
		"demo: done in 9m20s\n"
	file := func(t *testing.T, path string) (io.Writer, func() string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, func() string { b, _ := os.ReadFile(path); return string(b) }
	}
	cases := []struct {
		name string
		open func(t *testing.T) (io.Writer, func() string)
	}{
		{"buffer", func(*testing.T) (io.Writer, func() string) { var b bytes.Buffer; return &b, b.String }},
		{"file", func(t *testing.T) (io.Writer, func() string) { return file(t, filepath.Join(t.TempDir(), "demo.log")) }},
		{"/dev/null", func(t *testing.T) (io.Writer, func() string) { w, _ := file(t, os.DevNull); return w, nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, written := tc.open(t)
			p := newDemoProgress(w, demoTestSteps)
			if _, ok := p.(demoLines); !ok {
				t.Fatalf("progress on a %s is %T, want plain lines", tc.name, p)
			}
			driveDemoProgress(p)
			if written == nil {
				return
			}
			if got := written(); got != want {
				t.Errorf("progress on a %s:\n%s\nwant:\n%s", tc.name, got, want)
			}
		})
	}
}

// TestDemoBar: on a terminal the demo shows one bar across its steps, in
// their expected seconds, drawn before each step (and kept as a line, the
// step's own output following) with the step and its ETA, and full at the
// end.
func TestDemoBar(t *testing.T) {
	var out bytes.Buffer
	driveDemoProgress(newDemoBar(&out, demoTestSteps))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	wants := []struct{ description, percent string }{
		{"demo 1/5 up, about 4m45s left ", "   0% |"},
		{"demo 5/5 down, about 20s left ", "  96% |"}, // 275 of 285 s
		{"demo done in 9m20s ", " 100% |"},
	}
	if len(lines) != len(wants) {
		t.Fatalf("%d lines, want %d:\n%q", len(lines), len(wants), out.String())
	}
	for i, w := range wants {
		shown := lines[i][strings.LastIndex(lines[i], "\r")+1:] // what the terminal keeps of the line
		if !strings.HasPrefix(shown, w.description+w.percent) || !strings.Contains(shown, "|") {
			t.Errorf("line %d shows %q, want %q then the bar", i+1, shown, w.description+w.percent)
		}
	}
}
