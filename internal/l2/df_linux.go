//go:build linux

package l2

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// setDontFragment is a net.Dialer Control: path MTU discovery "do" (the DF
// bit on every datagram, EMSGSIZE instead of local fragmentation).
func setDontFragment(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	}); err != nil {
		return fmt.Errorf("setting IP_MTU_DISCOVER: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("setting IP_MTU_DISCOVER=IP_PMTUDISC_DO: %w", serr)
	}
	return nil
}
