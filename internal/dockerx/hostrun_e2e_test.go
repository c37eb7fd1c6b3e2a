//go:build e2e

package dockerx

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/fluidos-lab/testbed/internal/agentimage"
	"github.com/fluidos-lab/testbed/internal/l2"
)

// TestE2EHostRunL2 runs `testbed l2` from the agent image of TESTBED_BIN
// in helper containers on the real Docker engine, in the engine's network
// namespace: ensure (twice), inspect and remove a VXLAN device on a Docker
// network's bridge created here, the errors of a missing bridge and of bad
// input, and a probe listener with StartOnHost probed with RunOnHost. No
// helper container is left behind.
func TestE2EHostRunL2(t *testing.T) {
	bin := os.Getenv("TESTBED_BIN")
	if bin == "" {
		t.Skip("TESTBED_BIN is not set (make e2e builds and sets it)")
	}
	dc, err := NewClient("")
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := dc.Ping(ctx); err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	ref, _, err := agentimage.Ensure(ctx, dc, bin)
	if err != nil {
		t.Fatal(err)
	}
	// The engine's address toward the default route (no packet is sent).
	probe, err := net.Dial("udp4", "203.0.113.1:9")
	if err != nil {
		t.Skipf("no IPv4 default route for an underlay address: %v", err)
	}
	local := probe.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
	probe.Close()

	const bridge, device = "tbe2el2br0", "tbe2el2vx0"
	netName := "tbe2e-l2-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	nw, err := dc.NetworkCreate(ctx, netName, network.CreateOptions{Driver: "bridge",
		IPAM:    &network.IPAM{Config: []network.IPAMConfig{{Subnet: "10.231.77.0/24", IPRange: "10.231.77.0/26", Gateway: "10.231.77.62"}}},
		Options: map[string]string{"com.docker.network.bridge.name": bridge},
		Labels:  map[string]string{labelManaged: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dc.NetworkRemove(context.WithoutCancel(ctx), nw.ID); err != nil {
			t.Errorf("removing network %s: %v", netName, err)
		}
	}()

	spec := l2.Spec{Bridge: bridge, Device: device, VNI: 7777, Local: local, Peers: []netip.Addr{netip.MustParseAddr("203.0.113.77")}}
	specJSON, _ := json.Marshal(spec)
	helper := func(name string, stdin []byte, args ...string) ([]byte, []byte, error) {
		return RunOnHost(ctx, dc, HostRun{Name: name, Image: ref, Cmd: args, Stdin: stdin, Labels: map[string]string{"dev.testbed.e2e": "hostrun"}})
	}
	var res l2.Result
	for i, want := range []bool{true, false} {
		out, errOut, err := helper("l2-ensure", specJSON, "l2", "ensure")
		if err != nil {
			t.Fatalf("ensure %d: %v (stderr %s)", i+1, err, errOut)
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Changed() != want || res.Created != want {
			t.Fatalf("ensure %d: %s (%v): want changed=%v", i+1, out, err, want)
		}
		t.Logf("ensure %d: %s", i+1, strings.TrimSpace(string(out)))
	}
	defer func() {
		out, _, err := helper("l2-remove", nil, "l2", "remove", device)
		if err != nil || !strings.Contains(string(out), `"removed":true`) {
			t.Errorf("remove: %s, %v", out, err)
		}
	}()
	out, _, err := helper("l2-inspect", nil, "l2", "inspect", device)
	var st l2.State
	if err != nil || json.Unmarshal(out, &st) != nil || !st.Exists || st.Master != bridge || st.VNI != 7777 || st.Snooping == nil || *st.Snooping ||
		st.MTU != res.MTU || st.BridgeMTU != res.MTU || len(st.Peers) != 1 || !st.Up {
		t.Errorf("inspect: %s, %v", out, err)
	}
	t.Logf("inspect: %s", strings.TrimSpace(string(out)))

	missing := spec
	missing.Bridge, missing.Device = "tbe2enobr0", "tbe2el2vx1"
	mj, _ := json.Marshal(missing)
	_, _, err = helper("l2-ensure", mj, "l2", "ensure")
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 1 || !strings.Contains(ee.Stderr, "bridge tbe2enobr0 not found: is the discovery network created?") {
		t.Errorf("ensure without the bridge: %v", err)
	}
	if _, _, err = helper("l2-ensure", []byte("{"), "l2", "ensure"); !errors.As(err, &ee) || ee.ExitCode != 2 {
		t.Errorf("ensure with bad JSON: %v, want exit 2", err)
	}

	const listenAt = "127.0.0.1:47990"
	stop, err := StartOnHost(ctx, dc, HostRun{Name: "l2-listen", Image: ref, Cmd: []string{"l2", "listen", listenAt, "--for", "2m"}, Ready: `"listening"`})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = helper("l2-probe", nil, "l2", "probe", listenAt, "--sizes", "576,1400")
	var pr l2.ProbeResult
	if err != nil || json.Unmarshal(out, &pr) != nil || !pr.Reachable || pr.PathMTU != 1400 {
		t.Errorf("probe: %s, %v", out, err)
	}
	t.Logf("probe: %s", strings.TrimSpace(string(out)))
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}

	left, err := dc.ContainerList(context.WithoutCancel(ctx), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelHelper))})
	if err != nil || len(left) != 0 {
		t.Errorf("helper containers left: %d (%v)", len(left), err)
	}
}
