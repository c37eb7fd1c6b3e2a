//go:build !unix

package lablock

import (
	"errors"
	"os"
)

// tryLock: labs run on Docker hosts with a Unix kernel; elsewhere there is
// no lab to lock.
func tryLock(*os.File) (bool, error) {
	return false, errors.New("locking a lab needs a Unix host")
}
