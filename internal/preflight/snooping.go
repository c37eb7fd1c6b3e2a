package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// ErrNetworkAbsent is what a BridgeLookup returns when the lab network does
// not exist yet.
var ErrNetworkAbsent = errors.New("network does not exist")

// BridgeLookup names the Linux bridge behind a Docker network.
type BridgeLookup func(ctx context.Context, network string) (bridge string, err error)

// SnoopingCheck reports whether the lab bridge has the multicast snooping
// setting the topology asks for. `up` sets it and only warns when it cannot;
// this check shows what it could not set. With snooping on and no querier a
// Linux bridge still floods the group (seen on a real lab), so a mismatch
// is a warning, not a failure.
type SnoopingCheck struct {
	FS      fs.FS // host root
	Lookup  BridgeLookup
	Network string
	// Want is the topology's network.multicastSnooping.
	Want bool
}

// Name implements Check.
func (c SnoopingCheck) Name() string { return "multicast snooping on " + c.Network }

// Run implements Check.
func (c SnoopingCheck) Run(ctx context.Context) Result {
	want := "0"
	if c.Want {
		want = "1"
	}
	br, err := c.Lookup(ctx, c.Network)
	if errors.Is(err, ErrNetworkAbsent) {
		return Result{Status: Pass, Detail: fmt.Sprintf("network %s not created yet: `testbed up` creates it and sets multicast_snooping=%s on its bridge", c.Network, want)}
	}
	if err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("cannot inspect network %s: %v", c.Network, err), Fix: "check that the Docker engine is reachable"}
	}
	file := path.Join("sys/class/net", br, "bridge/multicast_snooping")
	b, err := fs.ReadFile(c.FS, file)
	if err != nil {
		return Result{Status: Warn,
			Detail: fmt.Sprintf("cannot read /%s (%v): the bridge is not visible from here (Docker engine in another network namespace?)", file, err),
			Fix:    fmt.Sprintf("on the engine's host: echo %s | sudo tee /%s", want, file)}
	}
	got := strings.TrimSpace(string(b))
	if got == want {
		return Result{Status: Pass, Detail: fmt.Sprintf("bridge %s multicast_snooping=%s as the topology asks", br, got)}
	}
	return Result{Status: Warn,
		Detail: fmt.Sprintf("bridge %s multicast_snooping=%s, the topology asks for %s (with no querier the bridge still floods the group, so discovery works; without snooping it is guaranteed)", br, got, want),
		Fix:    fmt.Sprintf("echo %s | sudo tee /%s (or run `testbed up` as root)", want, file)}
}
