//go:build e2e

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/scenarios/agent/selftest"
)

// TestE2ESelftest runs `testbed selftest` against the lab that
// TestE2EProvision leaves up: every direction must be discovered, and every
// ground-truth discovery time must fit firstDelay + interval + slack.
func TestE2ESelftest(t *testing.T) {
	bin := e2eBinary(t)
	file := e2eTopology(t)
	plan := e2ePlan(t, file)
	n := len(plan.Clusters)

	out, d, err := testbedRun(t, bin, 6*time.Minute, "selftest", file, "-o", "json", "--timeout", "3m")
	i := strings.Index(out, "{\n")
	if i < 0 {
		t.Fatalf("selftest printed no JSON result (err %v)", err)
	}
	var res selftest.Result
	if jerr := json.NewDecoder(strings.NewReader(out[i:])).Decode(&res); jerr != nil {
		t.Fatalf("selftest JSON: %v", jerr)
	}
	if err != nil {
		t.Errorf("selftest exited with %v; reasons %v", err, res.Reasons)
	}
	t.Logf("MEASURED: selftest on %d clusters took %s (matrix complete after %.0f ms of waiting)", n, d.Round(time.Millisecond), res.WaitedMS)
	if !res.Passed || res.Found != n*(n-1) || res.Expected != n*(n-1) {
		t.Fatalf("selftest: passed=%v found %d/%d reasons %v", res.Passed, res.Found, res.Expected, res.Reasons)
	}
	if res.IntervalMS <= 0 || res.BoundMS < res.FirstDelayMS+res.IntervalMS {
		t.Fatalf("timing: interval %.0f firstDelay %.0f bound %.0f", res.IntervalMS, res.FirstDelayMS, res.BoundMS)
	}
	var rows []string
	for _, c := range res.Cells {
		if !c.Found {
			t.Errorf("%s does not hear %s", c.Observer, c.Peer)
			continue
		}
		if c.DiscoveryMS < 0 || c.DiscoveryMS > res.BoundMS {
			t.Errorf("%s heard %s after %.1f ms: outside [0, firstDelay+interval+slack = %.0f ms]", c.Observer, c.Peer, c.DiscoveryMS, res.BoundMS)
		}
		if c.TransitMS < 0 || c.TransitMS > 1000 {
			t.Errorf("%s <- %s: receive minus send = %.3f ms, want within [0, 1000)", c.Observer, c.Peer, c.TransitMS)
		}
		rows = append(rows, fmt.Sprintf("%s<-%s %.1f ms (transit %.3f ms)", c.Observer, c.Peer, c.DiscoveryMS, c.TransitMS))
	}
	t.Logf("MEASURED: discovery matrix: %s", strings.Join(rows, "; "))
	for _, a := range res.Agents {
		if !a.Ready || a.Restarts != 0 {
			t.Errorf("%s: agent pod %s ready=%v restarts=%d (last exit: %s)", a.Cluster, a.Pod, a.Ready, a.Restarts, a.LastExit)
		}
		if a.APIErrors != 0 {
			t.Errorf("%s: %v API errors", a.Cluster, a.APIErrors)
		}
		t.Logf("MEASURED: %s agent: RSS %.1f MiB, CPU %.3f s, %v announcements", a.Cluster, a.ResidentMiB, a.CPUSeconds, a.Announcements)
	}

	// A second selftest finds the agent installed and the matrix complete.
	out, d, err = testbedRun(t, bin, 3*time.Minute, "selftest", file, "--timeout", "1m")
	if err != nil || !strings.Contains(out, "PASS") {
		t.Fatalf("second selftest: %v", err)
	}
	t.Logf("MEASURED: second selftest (no change) took %s", d.Round(time.Millisecond))
}
