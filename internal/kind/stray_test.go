package kind

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIsNodeRun(t *testing.T) {
	const label = "io.x-k8s.kind.cluster=ci-02"
	tests := []struct {
		name string
		argv string // NUL-separated in /proc; space-separated here
		want bool
	}{
		{"KinD's docker run of the node", "docker run --name ci-02-control-plane --hostname ci-02-control-plane --label " + label + " --privileged testbed.local/kind-node:v1", true},
		{"docker by path", "/usr/bin/docker run --label " + label + " img", true},
		{"docker create, --label=", "docker create --label=" + label + " img", true},
		{"another cluster", "docker run --label io.x-k8s.kind.cluster=ci-020 img", false},
		{"a prefix of the label only", "docker run --label io.x-k8s.kind.cluster=ci-0 img", false},
		{"docker exec into the node", "docker exec --privileged ci-02-control-plane kubeadm init " + label, false},
		{"not docker", "kind run --label " + label, false},
		{"docker with nothing else", "docker", false},
		{"ps listing the cluster", "docker ps -a --filter label=" + label, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var argv [][]byte
			for _, a := range strings.Fields(tt.argv) {
				argv = append(argv, []byte(a))
			}
			if got := isNodeRun(argv, label); got != tt.want {
				t.Errorf("isNodeRun(%q) = %v, want %v", tt.argv, got, tt.want)
			}
		})
	}
}

func TestProcStrays(t *testing.T) {
	root := t.TempDir()
	procs := map[string]string{
		"101":  "docker\x00run\x00--name\x00lab-01-control-plane\x00--label\x00io.x-k8s.kind.cluster=lab-01\x00img\x00",
		"102":  "docker\x00run\x00--label\x00io.x-k8s.kind.cluster=lab-02\x00img\x00",
		"103":  "", // a kernel thread
		"self": "docker\x00run\x00--label\x00io.x-k8s.kind.cluster=lab-01\x00",
		"104":  "/usr/local/bin/docker\x00create\x00--label=io.x-k8s.kind.cluster=lab-01\x00img",
	}
	for dir, cmdline := range procs {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "105"), 0o755); err != nil { // gone: no cmdline
		t.Fatal(err)
	}
	got, err := procStrays(root, "lab-01")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{101, 104}) {
		t.Errorf("stray runs of lab-01 = %v, want [101 104]", got)
	}
	if got, err := procStrays(filepath.Join(root, "absent"), "lab-01"); err != nil || got != nil {
		t.Errorf("no procfs: %v, %v; want none", got, err)
	}
}

// TestProcStraysRealProcess finds a live process whose argv is a docker
// run of a node (a shell named docker, blocked on its standard input) in
// this machine's /proc, and no longer once it has ended.
func TestProcStraysRealProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no procfs here: stray docker runs are found through /proc on Linux")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cluster := "stray-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	cmd := &exec.Cmd{Path: sh, Args: []string{"docker", "-c", "read x || true", "run", "--label", clusterLabel + "=" + cluster}}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got, err := procStrays("/proc", cluster)
	if err != nil || !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("stray runs = %v, %v; want pid %d", got, err, cmd.Process.Pid)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, err := procStrays("/proc", cluster); err != nil || len(got) != 0 {
		t.Errorf("after it ended: %v, %v; want none", got, err)
	}
}

func TestWaitStrays(t *testing.T) {
	boom := errors.New("permission denied")
	tests := []struct {
		name     string
		looks    [][]int // then none
		forever  bool    // the last look repeats
		listErr  error
		cancel   bool
		wantSeen []int
		wantErr  string
	}{
		{name: "none", wantSeen: nil},
		{name: "waits until they end", looks: [][]int{{7, 8}, {8}, {8}}, wantSeen: []int{7, 8}},
		{name: "outlives the limit", looks: [][]int{{7}}, forever: true, wantSeen: []int{7},
			wantErr: `cluster "c": docker run (pid [7]) of a killed create still runs after 5ms; wait for it or kill it, then run up again`},
		{name: "cancelled", looks: [][]int{{7}}, forever: true, cancel: true, wantSeen: []int{7}, wantErr: "context canceled"},
		{name: "listing fails", listErr: boom, wantErr: `cluster "c": looking for docker runs of a killed create: permission denied`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			list := func(string) ([]int, error) {
				if tt.listErr != nil {
					return nil, tt.listErr
				}
				if n++; n <= len(tt.looks) {
					return tt.looks[n-1], nil
				}
				if tt.forever {
					return tt.looks[len(tt.looks)-1], nil
				}
				return nil, nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			limit := time.Minute
			if tt.forever && !tt.cancel {
				limit = 5 * time.Millisecond
			}
			if tt.cancel {
				cancel()
			}
			seen, err := waitStrays(ctx, "c", list, time.Millisecond, limit)
			if !slices.Equal(seen, tt.wantSeen) {
				t.Errorf("seen %v, want %v", seen, tt.wantSeen)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
