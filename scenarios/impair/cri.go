package impair

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// ErrPodNotFound: the container runtime on the node has no sandbox for the
// pod (never scheduled there, or deleted).
var ErrPodNotFound = errors.New("pod sandbox not found on node")

// ErrNotStarted: the container exists but has not started yet.
var ErrNotStarted = errors.New("container has not started")

// Resolver asks the container runtime inside a KinD node (crictl over CRI)
// about pods: their network namespace, and their containers' start times.
//
// It remembers each pod's namespace path, so that reading counters costs
// one exec instead of three; a path that has gone (the sandbox was
// recreated) is resolved again. It is safe for concurrent use.
type Resolver struct {
	exec dockerx.Executor

	mu    sync.Mutex
	netns map[string]string // node/namespace/pod -> path
}

// NewResolver returns a Resolver that runs crictl through x.
func NewResolver(x dockerx.Executor) *Resolver { return &Resolver{exec: x, netns: map[string]string{}} }

func podKey(node, namespace, pod string) string { return node + "/" + namespace + "/" + pod }

// cachedNetNS returns the remembered path, or resolves it.
func (r *Resolver) cachedNetNS(ctx context.Context, node, namespace, pod string) (string, error) {
	r.mu.Lock()
	p, ok := r.netns[podKey(node, namespace, pod)]
	r.mu.Unlock()
	if ok {
		return p, nil
	}
	return r.NetNS(ctx, node, namespace, pod)
}

func (r *Resolver) forget(node, namespace, pod string) {
	r.mu.Lock()
	delete(r.netns, podKey(node, namespace, pod))
	r.mu.Unlock()
}

// inPod runs f with the pod's network namespace path. With fresh, the path
// is resolved now (Apply: the pod may have been replaced); otherwise the
// remembered one is used and, if nsenter can no longer open it, resolved
// again once.
func (r *Resolver) inPod(ctx context.Context, node, namespace, pod string, fresh bool, f func(ns string) error) error {
	var ns string
	var err error
	if fresh {
		ns, err = r.NetNS(ctx, node, namespace, pod)
	} else {
		ns, err = r.cachedNetNS(ctx, node, namespace, pod)
	}
	if err != nil {
		return err
	}
	err = f(ns)
	if fresh || !staleNetNS(err) {
		return err
	}
	r.forget(node, namespace, pod)
	if ns, err = r.NetNS(ctx, node, namespace, pod); err != nil {
		return err
	}
	return f(ns)
}

// staleNetNS: nsenter could not open the namespace (it was deleted with
// its sandbox).
func staleNetNS(err error) bool {
	var ee *dockerx.ExecError
	return errors.As(err, &ee) && strings.Contains(ee.Stderr, "nsenter: cannot open")
}

// sandbox is one item of `crictl pods -o json`.
type sandbox struct {
	ID       string `json:"id"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
		Attempt   int    `json:"attempt"`
	} `json:"metadata"`
	State     string      `json:"state"`
	CreatedAt json.Number `json:"createdAt"`
}

// podSandbox finds the pod's current sandbox: exact name and namespace,
// ready sandboxes first, then the newest.
func (r *Resolver) podSandbox(ctx context.Context, node, namespace, pod string) (sandbox, error) {
	out, _, err := r.exec.Exec(ctx, node, []string{"crictl", "pods", "--namespace", namespace, "--name", pod, "-o", "json"}, nil)
	if err != nil {
		return sandbox{}, fmt.Errorf("node %s: list pod sandboxes of %s/%s: %w", node, namespace, pod, err)
	}
	sb, err := pickSandbox(out, namespace, pod)
	if err != nil {
		return sandbox{}, fmt.Errorf("node %s: pod %s/%s: %w", node, namespace, pod, err)
	}
	return sb, nil
}

func pickSandbox(out []byte, namespace, pod string) (sandbox, error) {
	var doc struct {
		Items []sandbox `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return sandbox{}, fmt.Errorf("parse crictl pods: %w", err)
	}
	var match []sandbox
	for _, s := range doc.Items {
		// crictl's --name/--namespace are regular expressions: keep exact
		// matches only.
		if s.Metadata.Name == pod && s.Metadata.Namespace == namespace {
			match = append(match, s)
		}
	}
	if len(match) == 0 {
		return sandbox{}, ErrPodNotFound
	}
	sort.SliceStable(match, func(i, j int) bool {
		ri, rj := match[i].State == "SANDBOX_READY", match[j].State == "SANDBOX_READY"
		if ri != rj {
			return ri
		}
		return nsTime(match[i].CreatedAt) > nsTime(match[j].CreatedAt)
	})
	return match[0], nil
}

func nsTime(n json.Number) int64 {
	v, _ := strconv.ParseInt(string(n), 10, 64)
	return v
}

// NetNS returns the path of the pod's network namespace inside the node
// (e.g. /var/run/netns/cni-…), or /proc/<pid>/ns/net of its sandbox.
// ErrPodNotFound (wrapped) when the node has no ready sandbox for the pod.
func (r *Resolver) NetNS(ctx context.Context, node, namespace, pod string) (string, error) {
	r.forget(node, namespace, pod)
	sb, err := r.podSandbox(ctx, node, namespace, pod)
	if err != nil {
		return "", err
	}
	if sb.State != "SANDBOX_READY" {
		return "", fmt.Errorf("node %s: pod %s/%s: sandbox %s is %s: %w", node, namespace, pod, short(sb.ID), sb.State, ErrPodNotFound)
	}
	out, _, err := r.exec.Exec(ctx, node, []string{"crictl", "inspectp", "-o", "json", sb.ID}, nil)
	if err != nil {
		return "", fmt.Errorf("node %s: inspect sandbox of %s/%s: %w", node, namespace, pod, err)
	}
	path, err := parseNetNS(out)
	if err != nil {
		return "", fmt.Errorf("node %s: pod %s/%s: %w", node, namespace, pod, err)
	}
	r.mu.Lock()
	r.netns[podKey(node, namespace, pod)] = path
	r.mu.Unlock()
	return path, nil
}

// parseNetNS reads the network namespace from `crictl inspectp -o json`:
// info.runtimeSpec.linux.namespaces[type=network].path, else info.pid.
func parseNetNS(out []byte) (string, error) {
	var doc struct {
		Info struct {
			Pid         int `json:"pid"`
			RuntimeSpec struct {
				Linux struct {
					Namespaces []struct {
						Type string `json:"type"`
						Path string `json:"path"`
					} `json:"namespaces"`
				} `json:"linux"`
			} `json:"runtimeSpec"`
		} `json:"info"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return "", fmt.Errorf("parse crictl inspectp: %w", err)
	}
	for _, n := range doc.Info.RuntimeSpec.Linux.Namespaces {
		if n.Type == "network" && n.Path != "" {
			return n.Path, nil
		}
	}
	if doc.Info.Pid > 0 {
		return "/proc/" + strconv.Itoa(doc.Info.Pid) + "/ns/net", nil
	}
	return "", errors.New("crictl inspectp shows neither a network namespace path nor a pid (is crictl run with verbose info?)")
}

// ctrSummary is one item of `crictl ps -o json`.
type ctrSummary struct {
	ID           string `json:"id"`
	PodSandboxID string `json:"podSandboxId"`
	Metadata     struct {
		Name    string `json:"name"`
		Attempt int    `json:"attempt"`
	} `json:"metadata"`
	State     string      `json:"state"`
	CreatedAt json.Number `json:"createdAt"`
}

// ContainerStart returns when the runtime started the named container of the
// pod (status.startedAt of `crictl inspect`, nanosecond precision), for the
// current sandbox and the container's latest attempt. It returns
// ErrPodNotFound or ErrNotStarted (wrapped) when there is nothing to report
// yet; the caller may retry.
func (r *Resolver) ContainerStart(ctx context.Context, node, namespace, pod, container string) (time.Time, error) {
	sb, err := r.podSandbox(ctx, node, namespace, pod)
	if err != nil {
		return time.Time{}, err
	}
	out, _, err := r.exec.Exec(ctx, node, []string{"crictl", "ps", "-a", "--pod", sb.ID, "--name", container, "-o", "json"}, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("node %s: list containers of %s/%s: %w", node, namespace, pod, err)
	}
	id, err := pickContainer(out, sb.ID, container)
	if err != nil {
		return time.Time{}, fmt.Errorf("node %s: pod %s/%s container %s: %w", node, namespace, pod, container, err)
	}
	out, _, err = r.exec.Exec(ctx, node, []string{"crictl", "inspect", "-o", "json", id}, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("node %s: inspect container %s of %s/%s: %w", node, container, namespace, pod, err)
	}
	t, err := parseStartedAt(out)
	if err != nil {
		return time.Time{}, fmt.Errorf("node %s: pod %s/%s container %s: %w", node, namespace, pod, container, err)
	}
	return t, nil
}

func pickContainer(out []byte, sandboxID, name string) (string, error) {
	var doc struct {
		Containers []ctrSummary `json:"containers"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("parse crictl ps: %w", err)
	}
	var best *ctrSummary
	for i := range doc.Containers {
		c := &doc.Containers[i]
		if c.Metadata.Name != name || c.PodSandboxID != sandboxID {
			continue
		}
		if best == nil || c.Metadata.Attempt > best.Metadata.Attempt ||
			c.Metadata.Attempt == best.Metadata.Attempt && nsTime(c.CreatedAt) > nsTime(best.CreatedAt) {
			best = c
		}
	}
	if best == nil {
		return "", ErrNotStarted
	}
	return best.ID, nil
}

// parseStartedAt reads status.startedAt of `crictl inspect -o json`.
func parseStartedAt(out []byte) (time.Time, error) {
	var doc struct {
		Status struct {
			State     string `json:"state"`
			StartedAt string `json:"startedAt"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return time.Time{}, fmt.Errorf("parse crictl inspect: %w", err)
	}
	if doc.Status.StartedAt == "" {
		return time.Time{}, fmt.Errorf("%w (state %s)", ErrNotStarted, doc.Status.State)
	}
	t, err := time.Parse(time.RFC3339Nano, doc.Status.StartedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse startedAt %q: %w", doc.Status.StartedAt, err)
	}
	if t.Unix() <= 0 { // "1970-01-01T00:00:00Z" or "0001-01-01T00:00:00Z": not started
		return time.Time{}, fmt.Errorf("%w (state %s)", ErrNotStarted, doc.Status.State)
	}
	return t, nil
}

func short(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
