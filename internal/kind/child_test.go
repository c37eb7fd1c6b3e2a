package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/topology"
)

// TestMain lets this test binary play the testbed child (fakeChild).
func TestMain(m *testing.M) {
	if os.Getenv("TESTBED_FAKE_KIND_CHILD") != "" {
		os.Exit(fakeChild(os.Args[1:], os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// fakeChild answers like `testbed kind-child`: list prints two names and
// the DOCKER_HOST it got, create echoes the request to $FAKE_OUT, fail
// fails with a long message, hang starts a grandchild and waits.
func fakeChild(args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) < 3 || args[0] != ChildCommand || args[1] != "--kind-verbosity" {
		fmt.Fprintf(os.Stderr, "bad args %q", args)
		return 2
	}
	switch args[3] {
	case "list":
		_ = json.NewEncoder(stdout).Encode([]string{"a", os.Getenv("DOCKER_HOST")})
	case "create":
		b, _ := io.ReadAll(stdin)
		_ = os.WriteFile(os.Getenv("FAKE_OUT"), b, 0o600)
	case "delete":
		fmt.Fprint(os.Stderr, strings.Repeat("x", 3*maxChildStderr)+" the end")
		return 1
	case "export-kubeconfig":
		// A grandchild in the same process group, then wait for the kill.
		p, err := os.StartProcess("/bin/sleep", []string{"sleep", "60"}, &os.ProcAttr{})
		if err != nil {
			return 3
		}
		_ = os.WriteFile(os.Getenv("FAKE_OUT"), []byte(strconv.Itoa(p.Pid)), 0o600)
		time.Sleep(time.Minute)
	}
	return 0
}

func fakeChildOf(t *testing.T) (*Child, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	return &Child{Exe: os.Args[0], Host: "b", Grace: time.Second,
		Env: []string{"TESTBED_FAKE_KIND_CHILD=1", "FAKE_OUT=" + out, "DOCKER_HOST=unix:///run/b.sock"}}, out
}

func TestChildPassesEnvironmentAndRequest(t *testing.T) {
	c, out := fakeChildOf(t)
	names, err := c.List()
	if err != nil || len(names) != 2 || names[1] != "unix:///run/b.sock" {
		t.Fatalf("List = %v, %v; want the child's DOCKER_HOST back", names, err)
	}
	cp := topology.ClusterPlan{Name: "n-01", APIServerAddress: "10.0.0.2", APIServerPort: 16443}
	if err := c.Create(context.Background(), cp, 2); err != nil {
		t.Fatal(err)
	}
	var req createRequest
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &req); err != nil || req.Retries != 2 || req.Cluster.APIServerPort != 16443 || req.Cluster.Name != "n-01" {
		t.Fatalf("request %s (%v)", b, err)
	}
}

func TestChildErrorKeepsTheTail(t *testing.T) {
	c, _ := fakeChildOf(t)
	err := c.Delete("n-01", "/tmp/kc")
	if err == nil || !strings.Contains(err.Error(), "host b: kind delete") || !strings.HasSuffix(err.Error(), "the end") || len(err.Error()) > maxChildStderr+200 {
		t.Fatalf("error %.200q… (%d bytes): want host, operation and the bounded tail", err, len(fmt.Sprint(err)))
	}
}

func TestChildCancelKillsItsGroup(t *testing.T) {
	c, out := fakeChildOf(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.run(ctx, nil, "export-kubeconfig", "n", "p"); done <- err }()
	var pid int
	for pid == 0 {
		b, _ := os.ReadFile(out)
		pid, _ = strconv.Atoi(string(b))
		select {
		case err := <-done:
			t.Fatalf("child ended before the grandchild started: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("run after cancel: %v", err)
	}
	// The grandchild was killed with the group: reap it if it is ours,
	// else it must be gone.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		var ws syscall.WaitStatus
		if wp, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); wp == pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive after the child was cancelled", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeChildRefusesUnknownOperations(t *testing.T) {
	for _, args := range [][]string{nil, {"list", "x"}, {"delete", "a"}, {"rm"}} {
		if err := ServeChild(&Kind{}, args, strings.NewReader(""), io.Discard); err == nil {
			t.Errorf("ServeChild(%q) succeeded", args)
		}
	}
	if err := ServeChild(&Kind{}, []string{"create"}, strings.NewReader(`{"cluster":{},"bogus":1}`), io.Discard); err == nil || !strings.Contains(err.Error(), "create request") {
		t.Errorf("create with an unknown field: %v", err)
	}
}
