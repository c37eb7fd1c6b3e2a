//go:build !linux

package kind

import (
	"os/exec"
	"time"
)

// ownGroup lets exec kill the child when its context ends.
func ownGroup(cmd *exec.Cmd, grace time.Duration) { cmd.WaitDelay = grace }
