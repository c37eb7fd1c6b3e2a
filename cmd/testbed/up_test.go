package main

import (
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/provision"
)

// TestPrintUpReport: the step table shows each step's start, span and busy
// time, and the critical path names the cluster that ended last, its steps
// and how long each waited for a slot.
func TestPrintUpReport(t *testing.T) {
	r := &provision.Report{Topology: "ci", Wall: 62 * time.Second,
		Phases: []provision.PhaseTiming{{Name: "create", Start: time.Second, Duration: 40 * time.Second, Busy: 75 * time.Second, Changed: 2}},
		CriticalPath: provision.CriticalPath{Cluster: "ci-02", End: 61 * time.Second, Spans: []provision.Span{
			{Cluster: "ci-02", Step: "create", Queued: time.Second, Start: 21 * time.Second, End: 41 * time.Second},
			{Cluster: "ci-02", Step: "cni", Queued: 41 * time.Second, Start: 41 * time.Second, End: 43 * time.Second}}},
		BakeWarning: "baked image unavailable: imported into every node instead"}
	var b strings.Builder
	printUpReport(&b, r, true)
	out := b.String()
	for _, want := range []string{"STEP", "create  1s     40s   1m15s", "total", "1m2s",
		"critical path: ci-02, done at 1m1s: create 20s (queued 20s), cni 2s", "bake: baked image unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
