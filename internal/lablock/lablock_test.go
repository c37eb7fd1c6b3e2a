//go:build unix

package lablock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func holder(cmd string) Holder {
	return Holder{Command: cmd, PID: 4242, Host: "lab-host", Campaign: "/results/c1", Since: time.Date(2026, 12, 6, 6, 1, 2, 0, time.UTC)}
}

func TestAcquire(t *testing.T) {
	tests := []struct {
		name string
		// first is held (unless released) when second is asked for.
		release  bool
		wantBusy bool
	}{
		{name: "second while the first holds", wantBusy: true},
		{name: "second after the first released", release: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := Acquire("ci-3", dir, holder("testbed run a.yaml"))
			if err != nil {
				t.Fatalf("first Acquire: %v", err)
			}
			defer first.Release()
			if tc.release {
				if err := first.Release(); err != nil {
					t.Fatalf("Release: %v", err)
				}
			}
			second, err := Acquire("ci-3", dir, holder("testbed run b.yaml"))
			if !tc.wantBusy {
				if err != nil {
					t.Fatalf("second Acquire: %v", err)
				}
				if err := second.Release(); err != nil {
					t.Fatalf("second Release: %v", err)
				}
				return
			}
			if err == nil {
				second.Release()
				t.Fatal("second Acquire of a held lab succeeded")
			}
			var busy *BusyError
			if !errors.As(err, &busy) || !IsBusy(err) {
				t.Fatalf("error %T %v, want a *BusyError", err, err)
			}
			if h, want := busy.Holder, holder("testbed run a.yaml"); !h.Since.Equal(want.Since) || h.Command != want.Command || h.PID != want.PID || h.Host != want.Host || h.Campaign != want.Campaign {
				t.Errorf("holder %+v, want the first's", busy.Holder)
			}
			for _, want := range []string{`lab "ci-3" is busy since ` + holder("").Since.Local().Format("15:04:05") + `: pid 4242 on lab-host ("testbed run a.yaml") holds it for the campaign in /results/c1 (lock ` + filepath.Join(dir, FileName) + ")", "Ctrl-C"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestBusyErrorWithoutHolder(t *testing.T) {
	err := &BusyError{Lab: "x", Path: "/s/x/campaign.lock"}
	if !strings.Contains(err.Error(), `lab "x" is busy: another testbed process holds it (lock /s/x/campaign.lock)`) {
		t.Errorf("error %q", err)
	}
}

func TestNoStateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ci-3")
	_, err := Acquire("ci-3", dir, holder("testbed run"))
	if err == nil || !strings.Contains(err.Error(), "lab ci-3 has no state directory "+dir) || IsBusy(err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Acquire made the state directory: %v", err)
	}
}

func TestReleaseTwice(t *testing.T) {
	l, err := Acquire("x", t.TempDir(), holder("testbed run"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	var nilLock *Lock
	if err := nilLock.Release(); err != nil {
		t.Errorf("nil Release: %v", err)
	}
}

// TestKilledHolderFreesTheLab holds the lab in a child process, kills it
// with SIGKILL (no deferred Release runs) and takes the lab.
func TestKilledHolderFreesTheLab(t *testing.T) {
	if dir := os.Getenv("LABLOCK_HOLD"); dir != "" {
		if _, err := Acquire("ci-3", dir, holder("child")); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		select {} // until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderFreesTheLab$")
	cmd.Env = append(os.Environ(), "LABLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if l, err := Acquire("ci-3", dir, holder("parent")); !IsBusy(err) {
		l.Release()
		t.Fatalf("Acquire while the child holds: %v, want busy", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := Acquire("ci-3", dir, holder("parent"))
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}
