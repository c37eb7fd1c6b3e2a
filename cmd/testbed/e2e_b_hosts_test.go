//go:build e2e

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/topology"
)

// TestE2EHosts builds the two-host CI lab (topology/ci-2-hosts.yaml): this
// machine's engine as host a, and as host b a second engine in its own
// network namespace (.ci/second-host.sh), the two linked only by a veth
// pair that carries the shared network's VXLAN. It interrupts up with
// Ctrl-C and SIGKILL and checks the next up converges, that every
// direction is discovered across the hosts, runs a short campaign, and
// checks that down leaves both engines and both network namespaces as
// they were.
func TestE2EHosts(t *testing.T) {
	bin := e2eBinary(t)
	hostB, netnsB := os.Getenv("TESTBED_HOSTB_DOCKER_HOST"), os.Getenv("TESTBED_HOSTB_NETNS")
	if hostB == "" || netnsB == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("e2e prerequisite missing in CI: TESTBED_HOSTB_DOCKER_HOST and TESTBED_HOSTB_NETNS (.ci/second-host.sh up; eval \"$(.ci/second-host.sh env)\")")
		}
		t.Skip("skipping the two-host lab: TESTBED_HOSTB_DOCKER_HOST and TESTBED_HOSTB_NETNS are not set (.ci/second-host.sh up)")
	}
	file := filepath.Join(repoRoot(t), "topology", "ci-2-hosts.yaml")
	plan := e2ePlan(t, file)
	before := hostsState(t, hostB, netnsB)

	t.Run("doctor", func(t *testing.T) { checkHostsDoctor(t, bin, file) })
	interruptHostsUp(t, bin, file)
	out, d, err := testbedRun(t, bin, 20*time.Minute, "up", file)
	if err != nil {
		t.Fatalf("up after the interrupted ones: %v", err)
	}
	t.Logf("MEASURED: 2-host up (%d clusters) converged in %s", len(plan.Clusters), d.Round(time.Second))
	if strings.Contains(out, "✗") {
		t.Errorf("the converging up had a failing step")
	}
	defer func() {
		if _, _, err := testbedRun(t, bin, 10*time.Minute, "down", file); err != nil {
			t.Errorf("down: %v", err)
		}
		if d := before.diff(hostsState(t, hostB, netnsB)); d != "" {
			t.Errorf("FAULT hosts-down: the engines or namespaces differ from before the lab:\n%s", d)
		} else {
			t.Log("FAULT hosts-down: both engines and both namespaces exactly as before the lab")
		}
	}()
	testStatus(t, bin, file, plan)
	if out, _, err := testbedRun(t, bin, 5*time.Minute, "selftest", file); err != nil || !strings.Contains(out, "PASS: 12/12 directions discovered") {
		t.Fatalf("selftest across the hosts: %v", err)
	}
	checkHostsCampaign(t, bin, plan)
}

// checkHostsDoctor: doctor reaches both engines and probes the underlay
// both ways before the lab exists.
func checkHostsDoctor(t *testing.T, bin, file string) {
	out, _, _ := testbedRun(t, bin, 5*time.Minute, "doctor", file)
	for _, want := range []string{`✓ pass\s+host a `, `✓ pass\s+host b `, `✓ pass\s+underlay a → b \(UDP 4789\)\s+reachable`, `✓ pass\s+underlay b → a \(UDP 4789\)\s+reachable`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("doctor did not report %q", want)
		}
	}
}

// interruptHostsUp stops one up with Ctrl-C as its first creates start
// (the KinD children on both hosts are killed with their process groups:
// up must end within a minute, not when the creates end) and SIGKILLs the
// next one once a cluster has joined the shared network.
func interruptHostsUp(t *testing.T, bin, file string) {
	start := time.Now()
	var sent time.Time
	out, err := runUntilLine(t, bin, 10*time.Minute, regexp.MustCompile(`^h-02\s+create\s+\.\.\.$`).MatchString, func(c *exec.Cmd) {
		sent = time.Now()
		if err := c.Process.Signal(syscall.SIGINT); err != nil {
			t.Error(err)
		}
	}, "up", file)
	took := time.Since(sent)
	if err == nil || !strings.Contains(out, "interrupted") {
		t.Errorf("FAULT hosts-up-sigint: up exited %v without saying it was interrupted", err)
	}
	if took > time.Minute {
		t.Errorf("FAULT hosts-up-sigint: up took %s to stop after Ctrl-C: the KinD children were not stopped", took.Round(time.Second))
	}
	t.Logf("FAULT hosts-up-sigint: up stopped %s after Ctrl-C (%s after it started)", took.Round(time.Millisecond), time.Since(start).Round(time.Second))
	start = time.Now()
	if _, err := runUntilLine(t, bin, 15*time.Minute, regexp.MustCompile(`^h-0\d\s+shared\s+✓`).MatchString, sigkill(t), "up", file); err == nil {
		t.Error("FAULT hosts-up-sigkill: up exited 0 after SIGKILL")
	}
	t.Logf("FAULT hosts-up-sigkill: killed after the first cluster joined the shared network, %s after it started", time.Since(start).Round(time.Second))
}

// checkHostsCampaign runs the two-host scenario and checks every clean run
// found every peer, that the manifest records both hosts' clocks, and that
// the capture on host a's bridge explains discoveries of peers on host b.
func checkHostsCampaign(t *testing.T, bin string, plan *topology.Plan) {
	dir := filepath.Join(t.TempDir(), "campaign")
	scen := filepath.Join(repoRoot(t), "scenarios", "ci-2-hosts.yaml")
	if _, d, err := testbedRun(t, bin, 15*time.Minute, "run", scen, "--output", dir); err != nil {
		t.Fatalf("run: %v", err)
	} else {
		t.Logf("MEASURED: 2-host campaign in %s", d.Round(time.Second))
	}
	camp, err := store.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(camp.Manifest.Hosts) != 2 || camp.Manifest.Hosts[1].Name != "b" || camp.Manifest.Hosts[1].ClockMethod == "" {
		t.Errorf("manifest hosts %+v", camp.Manifest.Hosts)
	}
	onB := map[string]bool{}
	for _, c := range plan.Clusters {
		onB[c.Name] = c.Host == "b"
	}
	explained, clean := 0, 0
	for _, r := range camp.Runs {
		if r.Warmup || r.Aborted || r.Condition != "loss-0" {
			continue
		}
		clean++
		if len(r.Missing) != 0 {
			t.Errorf("run %s/%d missed %v", r.Condition, r.Index, r.Missing)
		}
		for _, p := range r.Peers {
			if onB[p.Peer] && p.Wire != nil && p.Wire.FirstMS > 0 {
				explained++
			}
		}
	}
	if clean == 0 || explained == 0 {
		t.Errorf("%d clean runs, %d discoveries of host b's peers explained by the capture on host a", clean, explained)
	}
	b, _ := json.Marshal(camp.Manifest.Hosts)
	t.Logf("MEASURED: 2-host campaign: %d clean runs, every peer found; %d discoveries across the hosts explained on the wire; hosts %s", clean, explained, b)
}

// hostsDocker is what a lab may leave on two engines and in two network
// namespaces.
type hostsDocker struct {
	a, b           dockerState
	linksA, linksB []string
}

func hostsState(t *testing.T, hostB, netnsB string) hostsDocker {
	t.Helper()
	links := func(args ...string) []string {
		b, err := exec.Command("ip", append(args, "-br", "link")...).Output()
		if err != nil {
			t.Fatalf("ip %v link: %v", args, err)
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "veth") {
				out = append(out, f[0])
			}
		}
		sort.Strings(out)
		return out
	}
	return hostsDocker{a: dockerObjectsOn(t), b: dockerObjectsOn(t, "-H", hostB), linksA: links(), linksB: links("-n", netnsB)}
}

func (h hostsDocker) diff(o hostsDocker) string {
	var out []string
	if d := h.a.diff(o.a); d != "" {
		out = append(out, "host a: "+d)
	}
	if d := h.b.diff(o.b); d != "" {
		out = append(out, "host b: "+d)
	}
	if fmt.Sprint(h.linksA) != fmt.Sprint(o.linksA) || fmt.Sprint(h.linksB) != fmt.Sprint(o.linksB) {
		out = append(out, fmt.Sprintf("links before %v / %v, after %v / %v", h.linksA, h.linksB, o.linksA, o.linksB))
	}
	return strings.Join(out, "\n")
}
