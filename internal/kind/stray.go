package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// A create cut short by a SIGKILL (of up, which takes its KinD child with
// it) leaves KinD's `docker run --name NODE … --label
// io.x-k8s.kind.cluster=CLUSTER` running: the docker CLI is a grandchild
// nobody kills, and it makes the node container when the engine answers,
// seconds later. A create or delete of that cluster in the meantime raced
// it: the next up's create failed with a name conflict (exit 125) or
// "node(s) already exist for a cluster", and a delete could leave the node
// it had not seen yet. So Create and Delete first wait for such stray runs
// of their cluster to end; the docker CLI always runs on this machine,
// whichever Docker host it talks to.

const (
	// strayPoll is how often the wait looks again.
	strayPoll = 200 * time.Millisecond
	// strayLimit bounds the wait: a `docker run` of a node takes seconds.
	strayLimit = 2 * time.Minute
	// clusterLabel is the label KinD puts on every node container.
	clusterLabel = "io.x-k8s.kind.cluster"
)

// procStrays lists the processes under procRoot (/proc) that are a docker
// CLI creating a node of cluster: argv[0] is docker, one argument is run
// or create, and one is the cluster's KinD label. A procRoot that does not
// exist (no procfs) has none.
func procStrays(procRoot, cluster string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	label := clusterLabel + "=" + cluster
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone since the listing, or a kernel thread
		}
		if isNodeRun(bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0}), label) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// isNodeRun reports whether argv is a docker CLI running or creating a
// container labelled label (as a separate argument or --label=…).
func isNodeRun(argv [][]byte, label string) bool {
	if len(argv) < 2 || filepath.Base(string(argv[0])) != "docker" {
		return false
	}
	verb, labelled := false, false
	for _, a := range argv[1:] {
		switch s := string(a); s {
		case "run", "create":
			verb = true
		case label, "--label=" + label, "-l=" + label:
			labelled = true
		}
	}
	return verb && labelled
}

// waitStrays waits until list finds no stray run of cluster, looking every
// poll for at most limit. It returns the stray runs it saw (nil for none)
// and an error naming them if they outlived limit or ctx ended first.
func waitStrays(ctx context.Context, cluster string, list func(string) ([]int, error), poll, limit time.Duration) ([]int, error) {
	var seen []int
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		pids, err := list(cluster)
		if err != nil {
			return seen, fmt.Errorf("cluster %q: looking for docker runs of a killed create: %w", cluster, err)
		}
		if len(pids) == 0 {
			return seen, nil
		}
		if seen == nil {
			seen = pids
		}
		select {
		case <-ctx.Done():
			return seen, fmt.Errorf("cluster %q: waiting for docker run (pid %v) of a killed create: %w", cluster, pids, ctx.Err())
		case <-deadline.C:
			return seen, fmt.Errorf("cluster %q: docker run (pid %v) of a killed create still runs after %s; wait for it or kill it, then run up again", cluster, pids, limit)
		case <-tick.C:
		}
	}
}
