//go:build integration

package preflight

import (
	"context"
	"os"
	"testing"
)

// TestProbeMacvlanIntegration creates a real macvlan link in a throw-away
// network namespace. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
func TestProbeMacvlanIntegration(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the macvlan probe needs root (run: sudo go test -tags integration ./internal/preflight)")
	}
	if err := ProbeMacvlan(context.Background()); err != nil {
		t.Fatalf("ProbeMacvlan: %v", err)
	}
	r := MacvlanCheck{FS: os.DirFS("/"), Release: kernelRelease(), Probe: ProbeMacvlan}.Run(context.Background())
	if r.Status != Pass {
		t.Fatalf("check: %+v", r)
	}
}
