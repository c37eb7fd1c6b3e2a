//go:build !linux

package l2

import (
	"errors"
	"syscall"
)

// setDontFragment: IP_MTU_DISCOVER is Linux's.
func setDontFragment(string, string, syscall.RawConn) error {
	return errors.New("probing the path MTU needs Linux (IP_MTU_DISCOVER)")
}
