package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	referenceagent "github.com/fluidos-lab/testbed/charts/reference-agent"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/topology"
)

// AgentInstall is the reference agent as InstallAgent put it on a lab.
type AgentInstall struct {
	Image string
	// Charts are the installed charts with their final values, one per
	// cluster in plan order.
	Charts []topology.ChartPlan
}

// AgentChart is the reference agent's chart on a cluster: the one the plan
// lists, else the built-in one. A local chart path that does not exist
// (testbed run outside the source tree) becomes the chart built into the
// binary.
func AgentChart(c topology.ClusterPlan) topology.ChartPlan {
	for _, ch := range c.Charts {
		if ch.Name == referenceagent.Name || strings.HasSuffix(strings.TrimSuffix(ch.Chart, "/"), referenceagent.Name) {
			if !strings.HasPrefix(ch.Chart, helm.BuiltinPrefix) && ch.Repo == "" {
				if _, err := os.Stat(ch.Chart); err != nil {
					ch.Chart = helm.BuiltinPrefix + referenceagent.Name
				}
			}
			return ch
		}
	}
	return topology.ChartPlan{Name: referenceagent.Name, Release: referenceagent.Name, Namespace: AgentNamespace, Chart: helm.BuiltinPrefix + referenceagent.Name}
}

// InstallAgent installs or upgrades the reference agent on every cluster of
// a running lab: the agent image (built from this binary) loaded into the
// nodes where missing, and the chart with the testbed values block.
func (p *Provisioner) InstallAgent(ctx context.Context, plan *topology.Plan) (*AgentInstall, error) {
	if p.agentImage == nil || p.charts == nil || p.images == nil {
		return nil, errors.New("installing the reference agent needs the agent image builder, an image loader and a chart installer")
	}
	ref, err := p.agentImage(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent image: %w", err)
	}
	net, err := p.managedNetwork(ctx, plan)
	if err != nil {
		return nil, err
	}
	out := &AgentInstall{Image: ref, Charts: make([]topology.ChartPlan, len(plan.Clusters))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(plan.Parallelism, 4))
	for i, c := range plan.Clusters {
		g.Go(func() error {
			s := &clusterState{plan: c}
			nodes, err := p.network.Nodes(gctx, net, c.Name)
			if err != nil || len(nodes) == 0 {
				return &StepError{Cluster: c.Name, Step: "agent", Err: fmt.Errorf("no node container on network %q (is the lab up?): %v", plan.Network.Name, err)}
			}
			s.nodes = nodes
			for _, n := range nodes {
				if n.Role == "control-plane" {
					s.address = n.Address
				}
			}
			if _, err := p.images.Load(gctx, ref, s.nodeNames()); err != nil {
				return &StepError{Cluster: c.Name, Step: "agent", Err: fmt.Errorf("loading %s into the nodes: %w", ref, err)}
			}
			ch := WithValues(AgentChart(c), nil, TestbedValues(plan, c, s.address, ref))
			if _, err := p.apply(gctx, s, ch); err != nil {
				return &StepError{Cluster: c.Name, Step: "agent", Err: err}
			}
			out.Charts[i] = ch
			p.progress.Logf("cluster %s: reference agent installed", c.Name)
			return nil
		})
	}
	return out, g.Wait()
}
