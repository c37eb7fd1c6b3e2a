package impair

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/internal/dockerx"
)

// reply is a scripted command outcome.
type reply struct {
	stdout string
	stderr string
	exit   int   // non-zero: an *dockerx.ExecError
	err    error // transport error
}

// call is one recorded Exec.
type call struct {
	node  string
	cmd   string
	stdin string
}

// fakeExec answers commands from a script keyed by the joined command line,
// and records every call. Unknown commands fail the test.
type fakeExec struct {
	t       *testing.T
	replies map[string][]reply // consumed in order; the last one repeats
	calls   []call
}

func newFake(t *testing.T, replies map[string][]reply) *fakeExec {
	return &fakeExec{t: t, replies: replies}
}

func (f *fakeExec) Exec(_ context.Context, node string, cmd []string, stdin io.Reader) ([]byte, []byte, error) {
	key := strings.Join(cmd, " ")
	c := call{node: node, cmd: key}
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			f.t.Fatalf("read stdin: %v", err)
		}
		c.stdin = string(b)
	}
	f.calls = append(f.calls, c)
	rs, ok := f.replies[key]
	if !ok || len(rs) == 0 {
		f.t.Errorf("unexpected command on %s: %q", node, key)
		return nil, nil, fmt.Errorf("unexpected command %q", key)
	}
	r := rs[0]
	if len(rs) > 1 {
		f.replies[key] = rs[1:]
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.exit != 0 {
		return []byte(r.stdout), []byte(r.stderr), &dockerx.ExecError{Container: node, Cmd: cmd, ExitCode: r.exit, Stderr: r.stderr}
	}
	return []byte(r.stdout), []byte(r.stderr), nil
}

func (f *fakeExec) cmds() []string {
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.cmd
	}
	return out
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
