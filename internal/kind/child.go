package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/topology"
)

// ChildCommand is the hidden testbed command a Child runs.
const ChildCommand = "kind-child"

// Child runs KinD for one Docker host in a child testbed process. KinD's
// docker provider runs the docker CLI through a process-wide command runner
// that inherits the process environment (DOCKER_HOST, DOCKER_CONTEXT, …,
// and KIND_EXPERIMENTAL_DOCKER_NETWORK), so two hosts in one process would
// race on os.Setenv. A child per call gets its own environment and, being a
// process group of its own, can be stopped with everything it started (the
// docker CLI calls of a create) when ctx ends: an interrupted create leaves
// a partial cluster that the next up deletes and makes again.
type Child struct {
	// Exe is the testbed binary (os.Executable()).
	Exe string
	// Env is added to the parent's environment: the host's Docker endpoint
	// variables and KIND_EXPERIMENTAL_DOCKER_NETWORK.
	Env []string
	// Verbosity is the KinD log level of the child (default 1).
	Verbosity int
	// Host names the host in errors.
	Host string
	// Grace bounds the wait for a killed child's output (default 5s).
	Grace time.Duration
	// NoWait is Kind.NoWait for the child's creates.
	NoWait bool
}

// createRequest is what a create child reads on stdin.
type createRequest struct {
	Cluster topology.ClusterPlan `json:"cluster"`
	Retries int                  `json:"retries"`
	NoWait  bool                 `json:"noWait,omitempty"`
}

// List implements provision.Clusters.
func (c *Child) List() ([]string, error) {
	out, err := c.run(context.Background(), nil, "list")
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		return nil, fmt.Errorf("host %s: kind list: reading the child's answer: %w", c.Host, err)
	}
	return names, nil
}

// Create implements provision.Clusters.
func (c *Child) Create(ctx context.Context, cp topology.ClusterPlan, retries int) error {
	req, err := json.Marshal(createRequest{Cluster: cp, Retries: retries, NoWait: c.NoWait})
	if err != nil {
		return err
	}
	_, err = c.run(ctx, req, "create")
	return err
}

// Delete implements provision.Clusters.
func (c *Child) Delete(name, kubeconfig string) error {
	_, err := c.run(context.Background(), nil, "delete", name, kubeconfig)
	return err
}

// ExportKubeconfig implements provision.Clusters.
func (c *Child) ExportKubeconfig(name, path string) error {
	_, err := c.run(context.Background(), nil, "export-kubeconfig", name, path)
	return err
}

// maxChildStderr bounds the child's error output kept for the error.
const maxChildStderr = 8 << 10

// run runs `testbed kind-child ARGS` with stdin and returns its stdout; a
// failure carries the tail of its standard error.
func (c *Child) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	if c.Exe == "" {
		return nil, errors.New("kind child: no testbed binary")
	}
	v := c.Verbosity
	if v == 0 {
		v = 1
	}
	full := append([]string{ChildCommand, "--kind-verbosity", strconv.Itoa(v)}, args...)
	cmd := exec.CommandContext(ctx, c.Exe, full...)
	cmd.Env = append(os.Environ(), c.Env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: maxChildStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	grace := c.Grace
	if grace == 0 {
		grace = 5 * time.Second
	}
	ownGroup(cmd, grace)
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			return nil, fmt.Errorf("host %s: kind %s: stopped: %w (%s)", c.Host, args[0], ctx.Err(), msg)
		}
		return nil, fmt.Errorf("host %s: kind %s: %w: %s", c.Host, args[0], err, msg)
	}
	return stdout.Bytes(), nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	b   []byte
}

var _ io.Writer = (*tailBuffer)(nil)

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// ServeChild is the child's side: it runs one KinD operation with k on
// this process's Docker host and writes its answer to stdout.
func ServeChild(k *Kind, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("kind child: no operation")
	}
	switch op, rest := args[0], args[1:]; {
	case op == "list" && len(rest) == 0:
		names, err := k.List()
		if err != nil {
			return err
		}
		if names == nil {
			names = []string{}
		}
		return json.NewEncoder(stdout).Encode(names)
	case op == "create" && len(rest) == 0:
		var req createRequest
		dec := json.NewDecoder(io.LimitReader(stdin, 16<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return fmt.Errorf("kind child: reading the create request: %w", err)
		}
		k.NoWait = req.NoWait
		return k.Create(context.Background(), req.Cluster, req.Retries)
	case op == "delete" && len(rest) == 2:
		return k.Delete(rest[0], rest[1])
	case op == "export-kubeconfig" && len(rest) == 2:
		return k.ExportKubeconfig(rest[0], rest[1])
	default:
		return fmt.Errorf("kind child: unknown operation %q with %d argument(s)", op, len(rest))
	}
}
