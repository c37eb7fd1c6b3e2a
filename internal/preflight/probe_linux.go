//go:build linux

package preflight

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ProbeMacvlan creates a veth pair and a macvlan link on top of it inside a
// new, unnamed network namespace, then drops the namespace (and the links
// with it). It needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root). The host's
// namespaces are never modified.
func ProbeMacvlan(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// The thread enters a new namespace. If switching back fails the
		// goroutine exits still locked, so the runtime discards the thread.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("create netns: %w", err)
			return
		}
		err = probeIn()
		ns.Close()
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("restore netns: %w", serr))
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func probeIn() error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tbprobe0"}, PeerName: "tbprobe1"}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth parent: %w", err)
	}
	parent, err := netlink.LinkByName("tbprobe0")
	if err != nil {
		return fmt.Errorf("find veth parent: %w", err)
	}
	mv := &netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: "tbprobe2", ParentIndex: parent.Attrs().Index}, Mode: netlink.MACVLAN_MODE_BRIDGE}
	if err := netlink.LinkAdd(mv); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%w: %v", ErrProbeUnsupported, err)
		}
		return fmt.Errorf("create macvlan: %w", err)
	}
	return nil
}
