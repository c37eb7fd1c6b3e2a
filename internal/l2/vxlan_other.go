//go:build !linux

package l2

import (
	"context"
	"net/netip"
)

// Ensure needs Linux netlink.
func Ensure(context.Context, Spec) (Result, error) { return Result{}, ErrUnsupported }

// Remove needs Linux netlink.
func Remove(context.Context, string) (bool, error) { return false, ErrUnsupported }

// Inspect needs Linux netlink.
func Inspect(context.Context, string) (State, error) { return State{}, ErrUnsupported }

// Underlay needs Linux netlink.
func Underlay(context.Context, netip.Addr) (UnderlayInfo, error) {
	return UnderlayInfo{}, ErrUnsupported
}
