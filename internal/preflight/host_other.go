//go:build !linux

package preflight

import (
	"context"
	"errors"
	"runtime"
)

var errNotLinux = errors.New("host checks need Linux, this is " + runtime.GOOS)

func kernelRelease() string { return "" }

func rlimitNofile() (uint64, uint64, error) { return 0, 0, errNotLinux }

func freeBytes(string) (uint64, error) { return 0, errNotLinux }

// ProbeMacvlan needs Linux network namespaces.
func ProbeMacvlan(context.Context) error { return errNotLinux }
