package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/fluidos-lab/testbed/internal/l2"
)

// runL2 runs testbed with stdin as standard input.
func runL2(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewRootCommand(IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil && !errors.Is(err, errSilent) {
		errOut.WriteString("testbed: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitCodeOf(err, false)
}

// TestL2BadInput: whatever is wrong with the input, `testbed l2` exits 2
// before it touches the host, and says what is wrong.
func TestL2BadInput(t *testing.T) {
	const valid = `{"bridge":"tb-disc0","device":"tbvx0","vni":42,"local":"192.0.2.1","peers":["192.0.2.2"]}`
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"ensure: not JSON", "bridge: tb-disc0", []string{"l2", "ensure"}, "spec on standard input: invalid character"},
		{"ensure: empty", "", []string{"l2", "ensure"}, "spec on standard input: EOF"},
		{"ensure: unknown field", `{"bridge":"tb-disc0","vni":42,"group":"239.1.1.1"}`, []string{"l2", "ensure"}, `unknown field "group"`},
		{"ensure: two values", valid + valid, []string{"l2", "ensure"}, "more after the JSON object"},
		{"ensure: bad address", strings.Replace(valid, "192.0.2.1", "192.0.2", 1), []string{"l2", "ensure"}, "ParseAddr"},
		{"ensure: invalid spec", strings.Replace(valid, `"vni":42`, `"vni":0`, 1), []string{"l2", "ensure"}, "vni: 0 out of range"},
		{"ensure: too large", `{"peers":["` + strings.Repeat("1", 1<<20) + `"]}`, []string{"l2", "ensure"}, "more than 1048576 bytes"},
		{"ensure: arguments", valid, []string{"l2", "ensure", "extra"}, "unknown command"},
		{"remove: no device", "", []string{"l2", "remove"}, "accepts 1 arg"},
		{"remove: bad name", "", []string{"l2", "remove", "vx/0"}, "DEVICE: interface name"},
		{"inspect: long name", "", []string{"l2", "inspect", "a-name-of-16-byt"}, "DEVICE: interface name"},
		{"listen: no port", "", []string{"l2", "listen", "127.0.0.1"}, `ADDR:PORT "127.0.0.1"`},
		{"listen: IPv6", "", []string{"l2", "listen", "[::1]:4790"}, "want an IPv4 address"},
		{"listen: zero duration", "", []string{"l2", "listen", "127.0.0.1:0", "--for", "0s"}, "--for 0s: must be positive"},
		{"probe: size too small", "", []string{"l2", "probe", "127.0.0.1:9", "--sizes", "20"}, "probe size 20 out of range"},
		{"probe: sizes not numbers", "", []string{"l2", "probe", "127.0.0.1:9", "--sizes", "big"}, "invalid argument"},
		{"probe: no port", "", []string{"l2", "probe", "127.0.0.1:0"}, "want a unicast IPv4 address and a port"},
		{"probe: zero timeout", "", []string{"l2", "probe", "127.0.0.1:9", "--timeout", "0s"}, "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runL2(t, tc.stdin, tc.args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) || out != "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, stderr, exitBadInput, tc.want)
			}
		})
	}
}

func TestL2Hidden(t *testing.T) {
	out, _, code := runL2(t, "", "--help")
	if code != exitOK || strings.Contains(out, "l2") {
		t.Errorf("testbed --help (exit %d) lists the hidden l2 command:\n%s", code, out)
	}
	out, _, code = runL2(t, "", "l2", "--help")
	for _, sub := range []string{"ensure", "remove", "inspect", "listen", "probe"} {
		if code != exitOK || !strings.Contains(out, sub) {
			t.Errorf("testbed l2 --help (exit %d) does not list %s:\n%s", code, sub, out)
		}
	}
}

// TestL2Probe: probe prints one JSON result, and exits 0 whether or not
// the listener answered.
func TestL2Probe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the probe needs Linux")
	}
	ln, err := l2.NewListener(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ln.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	out, stderr, code := runL2(t, "", "l2", "probe", ln.Addr().String(), "--sizes", "1500,576")
	var res l2.ProbeResult
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if !res.Reachable || res.PathMTU != 1500 || len(res.Sizes) != 2 || res.To != ln.Addr() {
		t.Errorf("result %+v: want reachable, path MTU 1500, two sizes", res)
	}
}

// TestL2Listen: listen says where it listens, once bound, and ends after
// --for with exit 0.
func TestL2Listen(t *testing.T) {
	out, stderr, code := runL2(t, "", "l2", "listen", "127.0.0.1:0", "--for", "10ms")
	var line struct {
		Listening netip.AddrPort `json:"listening"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &line) != nil || line.Listening.Port() == 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want a listening line and exit 0", code, out, stderr)
	}
}

// TestL2InspectMissing reads (only reads) this host's links.
func TestL2InspectMissing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inspect needs Linux")
	}
	out, stderr, code := runL2(t, "", "l2", "inspect", "tbnosuch0")
	if code != exitOK || strings.TrimSpace(out) != `{"device":"tbnosuch0","exists":false,"learning":false,"up":false,"peers":[]}` {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
