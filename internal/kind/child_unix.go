//go:build unix

package kind

import (
	"os/exec"
	"syscall"
	"time"
)

// ownGroup puts the child in a process group of its own and makes a
// cancelled context kill the whole group, the docker CLI calls of a KinD
// create with it (KinD traps no signal, so a gentler one would end it no
// more cleanly). grace bounds the wait for its output afterwards.
func ownGroup(cmd *exec.Cmd, grace time.Duration) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = grace
}
