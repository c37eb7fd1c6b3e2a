package impair

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fixtures were captured from crictl in the offline KinD node image
// (testbed.local/kind-node:v1.34.2, containerd): coredns-…-9wp7x after its
// container was stopped once (attempt 0 exited, attempt 1 running), and
// coredns-…-cb85h after its sandbox was stopped (attempt 0 NOTREADY,
// attempt 1 READY). "crictl pods --name coredns" matched both pods: the
// filter is a regular expression.
const (
	fxPod       = "coredns-66bc5c9577-9wp7x"
	fxSandbox   = "b4641b220a980ad35f5150a5f05a6215770c91047f99ae1d5c09926e19e25072"
	fxContainer = "4eaf59eadfdf"
	fxNetNS     = "/var/run/netns/cni-8272bd65-fa74-a5e4-0193-403e5b2891c7"
)

func TestPickSandbox(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, pod string
		wantPrefix         string
		wantErr            error
	}{
		{"exact name among regexp matches", "crictl-pods.json", fxPod, "b4641b220a98", nil},
		{"other pod", "crictl-pods.json", "coredns-66bc5c9577-cb85h", "4aa25906032e", nil},
		{"restarted sandbox: ready one wins", "crictl-pods-restarted.json", "coredns-66bc5c9577-cb85h", "def251b5f712", nil},
		{"prefix is not a match", "crictl-pods.json", "coredns", "", ErrPodNotFound},
		{"absent", "crictl-pods.json", "reference-agent-x", "", ErrPodNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, err := pickSandbox([]byte(fixture(t, tc.fixture)), "kube-system", tc.pod)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.HasPrefix(sb.ID, tc.wantPrefix) {
				t.Errorf("sandbox %s, want %s…", sb.ID, tc.wantPrefix)
			}
		})
	}
	if _, err := pickSandbox([]byte("{"), "a", "b"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseNetNS(t *testing.T) {
	got, err := parseNetNS([]byte(fixture(t, "crictl-inspectp.json")))
	if err != nil || got != fxNetNS {
		t.Errorf("parseNetNS = %q, %v; want %q", got, err, fxNetNS)
	}
	got, err = parseNetNS([]byte(`{"info":{"pid":1492,"runtimeSpec":{"linux":{"namespaces":[{"type":"network"}]}}}}`))
	if err != nil || got != "/proc/1492/ns/net" {
		t.Errorf("pid fallback = %q, %v", got, err)
	}
	for _, bad := range []string{`{"status":{}}`, `[`} {
		if _, err := parseNetNS([]byte(bad)); err == nil {
			t.Errorf("parseNetNS(%s) accepted", bad)
		}
	}
}

func TestPickContainer(t *testing.T) {
	out := []byte(fixture(t, "crictl-ps.json"))
	id, err := pickContainer(out, fxSandbox, "coredns")
	if err != nil || !strings.HasPrefix(id, fxContainer) {
		t.Errorf("pickContainer = %q, %v; want the running attempt 1 (%s…)", id, err, fxContainer)
	}
	if _, err := pickContainer(out, fxSandbox, "sidecar"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("absent container: err = %v", err)
	}
	if _, err := pickContainer(out, "other-sandbox", "coredns"); !errors.Is(err, ErrNotStarted) {
		t.Errorf("container of another sandbox: err = %v", err)
	}
}

func TestParseStartedAt(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
		wantErr  error
	}{
		{"running", fixture(t, "crictl-inspect.json"), "2026-11-26T18:33:39.833609857Z", nil},
		{"exited keeps its start", fixture(t, "crictl-inspect-exited.json"), "2026-11-26T18:33:34.214501471Z", nil},
		{"created, not started", `{"status":{"state":"CONTAINER_CREATED","startedAt":"1970-01-01T00:00:00Z"}}`, "", ErrNotStarted},
		{"no field", `{"status":{"state":"CONTAINER_CREATED"}}`, "", ErrNotStarted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStartedAt([]byte(tc.in))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && got.Format(time.RFC3339Nano) != tc.want {
				t.Errorf("startedAt = %s, want %s", got.Format(time.RFC3339Nano), tc.want)
			}
		})
	}
	if _, err := parseStartedAt([]byte(`{"status":{"startedAt":"yesterday"}}`)); err == nil || errors.Is(err, ErrNotStarted) {
		t.Errorf("bad time: err = %v", err)
	}
}

func TestResolverContainerStartAndNetNS(t *testing.T) {
	podsCmd := "crictl pods --namespace kube-system --name " + fxPod + " -o json"
	id, err := pickContainer([]byte(fixture(t, "crictl-ps.json")), fxSandbox, "coredns")
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t, map[string][]reply{
		podsCmd: {{stdout: fixture(t, "crictl-pods.json")}},
		"crictl ps -a --pod " + fxSandbox + " --name coredns -o json": {{stdout: fixture(t, "crictl-ps.json")}},
		"crictl inspect -o json " + id:                                {{stdout: fixture(t, "crictl-inspect.json")}},
		"crictl inspectp -o json " + fxSandbox:                        {{stdout: fixture(t, "crictl-inspectp.json")}},
	})

	r := NewResolver(f)
	ctx := context.Background()
	got, err := r.ContainerStart(ctx, "n1", "kube-system", fxPod, "coredns")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 26, 18, 33, 39, 833609857, time.UTC); !got.Equal(want) {
		t.Errorf("ContainerStart = %v, want %v", got, want)
	}
	ns, err := r.NetNS(ctx, "n1", "kube-system", fxPod)
	if err != nil || ns != fxNetNS {
		t.Errorf("NetNS = %q, %v", ns, err)
	}
	want := []string{podsCmd, "crictl ps -a --pod " + fxSandbox + " --name coredns -o json", "crictl inspect -o json " + id, podsCmd, "crictl inspectp -o json " + fxSandbox}
	if d := cmp.Diff(want, f.cmds()); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}

	// A pod whose sandbox is not ready has no namespace to shape.
	notReady := strings.Replace(fixture(t, "crictl-pods.json"), "SANDBOX_READY", "SANDBOX_NOTREADY", 1)
	f = newFake(t, map[string][]reply{podsCmd: {{stdout: notReady}}})
	if _, err := NewResolver(f).NetNS(ctx, "n1", "kube-system", fxPod); !errors.Is(err, ErrPodNotFound) || !strings.Contains(err.Error(), "node n1") {
		t.Errorf("NetNS of a not-ready sandbox: %v", err)
	}
	// crictl failing is reported with the node and pod.
	f = newFake(t, map[string][]reply{podsCmd: {{stderr: "connect: connection refused", exit: 1}}})
	if _, err := NewResolver(f).ContainerStart(ctx, "n1", "kube-system", fxPod, "coredns"); err == nil || !strings.Contains(err.Error(), "node n1") || !strings.Contains(err.Error(), fxPod) {
		t.Errorf("ContainerStart with crictl down: %v", err)
	}
}
