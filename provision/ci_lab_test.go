package provision

import (
	"path/filepath"
	"testing"

	referenceagent "github.com/fluidos-lab/testbed/charts/reference-agent"
	"github.com/fluidos-lab/testbed/topology"
)

// TestCILabAgentUnderOwnRelease: the CI lab installs the reference agent
// as an extra chart under a release not named after the chart. The
// provisioner still recognises it as the agent (its image is loaded, status
// plans the protocol in its namespace), and selftest's InstallAgent
// upgrades that release rather than installing a second one (the chart's
// workload, service account and RBAC have fixed names, so two releases
// would collide).
func TestCILabAgentUnderOwnRelease(t *testing.T) {
	top, err := topology.Load(filepath.Join("..", "topology", "ci-3-nodes.yaml"), topology.WithEnvironment(topology.Environment{StateRoot: t.TempDir(), CPUs: 4}))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.ExtraCharts) != 1 {
		t.Fatalf("extra charts %+v, want the reference agent only", plan.ExtraCharts)
	}
	release := plan.ExtraCharts[0].Release
	if release == referenceagent.Name {
		t.Fatalf("the CI lab's agent release is %q, its chart's name: the e2e tier would not catch a lookup by release name", release)
	}
	var agent *discoveryProto
	for _, d := range (&Provisioner{}).discoveryProtocols(plan) {
		if d.Workload == AgentDaemonSet {
			agent = &d
		}
	}
	if agent == nil || !agent.planned || agent.ns != plan.ExtraCharts[0].Namespace {
		t.Errorf("status plans the agent as %+v, want planned in %s", agent, plan.ExtraCharts[0].Namespace)
	}
	for _, c := range plan.Clusters {
		_, extra := chartsOf(plan, c)
		if len(extra) != 1 || !usesAgentImage(extra[0]) || extra[0].Release != release {
			t.Errorf("%s: extra charts %+v, want the agent image's chart as release %s", c.Name, extra, release)
		}
		if got := AgentChart(c); got.Release != release || got.Namespace != plan.ExtraCharts[0].Namespace {
			t.Errorf("%s: InstallAgent would apply release %s/%s, want %s/%s", c.Name, got.Namespace, got.Release, plan.ExtraCharts[0].Namespace, release)
		}
	}
}
