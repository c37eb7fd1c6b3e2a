//go:build linux

package kind

import (
	"os/exec"
	"syscall"
	"time"
)

// ownGroup puts the child in a process group of its own and makes a
// cancelled context kill the whole group, the docker CLI calls of a KinD
// create with it (KinD traps no signal, so a gentler one would end it no
// more cleanly). A parent that dies (SIGKILL) takes the child with it
// (Pdeathsig), as an in-process KinD would end; the child's own docker CLI
// calls then run to their end, and the next create or delete of that
// cluster waits for them (stray.go). grace bounds
// the wait for the child's output after the kill.
func ownGroup(cmd *exec.Cmd, grace time.Duration) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = grace
}
