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
	if p.charts == nil {
		return nil, errors.New("installing the reference agent needs a chart installer")
	}
	hosts, err := p.labNetworks(ctx, plan)
	if err != nil {
		return nil, err
	}
	ref, err := agentImageOn(ctx, hosts)
	if err != nil {
		return nil, err
	}
	out := &AgentInstall{Image: ref, Charts: make([]topology.ChartPlan, len(plan.Clusters))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(plan.Parallelism, 4))
	for i, c := range plan.Clusters {
		g.Go(func() error {
			s := &clusterState{plan: c, host: hostOf(hosts, c)}
			if err := p.readNodes(gctx, plan, s); err != nil {
				return &StepError{Cluster: c.Name, Step: "agent", Err: err}
			}
			if _, err := s.host.eng.Images.Load(gctx, ref, s.nodeNames()); err != nil {
				return &StepError{Cluster: c.Name, Step: "agent", Err: fmt.Errorf("loading %s into the nodes: %w", ref, err)}
			}
			ch := WithValues(AgentChart(c), nil, TestbedValues(plan, c, s.nodeAddress(), ref))
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

// agentImageOn builds the reference agent image on every host and returns
// its reference.
func agentImageOn(ctx context.Context, hosts []*hostRun) (string, error) {
	ref := ""
	for _, h := range hosts {
		if h.eng.AgentImage == nil || h.eng.Images == nil {
			return "", errors.New("installing the reference agent needs the agent image builder and an image loader")
		}
		r, err := h.eng.AgentImage(ctx)
		if err != nil {
			return "", fmt.Errorf("agent image%s: %w", onHost(h), err)
		}
		ref = r
	}
	return ref, nil
}

// readNodes reads a running cluster's node containers and its control
// plane's addresses (on the shared network too, on several hosts).
func (p *Provisioner) readNodes(ctx context.Context, plan *topology.Plan, s *clusterState) error {
	h := s.host
	if h.netErr != nil {
		return h.netErr
	}
	nodes, err := h.eng.Network.Nodes(ctx, h.net, s.plan.Name)
	if err != nil || len(nodes) == 0 {
		return fmt.Errorf("no node container on network %q%s (is the lab up?): %v", plan.Network.Name, onHost(h), err)
	}
	s.nodes = nodes
	for _, n := range nodes {
		if n.Role != "control-plane" {
			continue
		}
		s.address = n.Address
		if plan.MultiHost() && h.eng.Shared != nil {
			addr, err := h.eng.Shared.Attach(ctx, plan, n.Name)
			if err != nil {
				return fmt.Errorf("node %s on the shared network: %w", n.Name, err)
			}
			s.sharedAddress = addr
		}
	}
	return nil
}
