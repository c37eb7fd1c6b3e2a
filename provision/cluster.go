package provision

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/api/types/network"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/topology"
)

// ensureCluster makes one cluster exist and be healthy: a healthy cluster is
// kept (its kubeconfig re-exported if missing), anything else is deleted and
// created again. A KinD cluster of the same name that is not on the lab's
// network is not this lab's and is refused, never deleted.
func (p *Provisioner) ensureCluster(ctx context.Context, plan *topology.Plan, s *clusterState, exists, recreate bool) (string, bool, time.Duration, error) {
	c, eng, net := s.plan, s.host.eng, s.host.net
	if exists {
		nodes, err := eng.Network.Nodes(ctx, net, c.Name)
		if err != nil {
			return "", false, 0, err
		}
		if len(nodes) == 0 {
			return "", false, 0, fmt.Errorf("a KinD cluster named %q exists but none of its nodes is on network %q: it is not this lab's; delete it or rename the cluster", c.Name, plan.Network.Name)
		}
		reason := ""
		if recreate {
			reason = "--recreate"
		} else {
			reason = p.unhealthy(ctx, eng, c, nodes)
		}
		if reason == "" {
			return "healthy, kept", false, 0, nil
		}
		p.progress.Logf("cluster %s: %s: deleting and creating again", c.Name, reason)
		if err := p.deleteUntilGone(ctx, eng, net, c); err != nil {
			return "", false, 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return "", false, 0, err
	}
	retries := plan.Retries
	t := p.now()
	if err := eng.Clusters.Create(ctx, c, retries); err != nil {
		return "", false, 0, err
	}
	d := p.now().Sub(t)
	return fmt.Sprintf("created in %s", d.Round(time.Millisecond)), true, d, nil
}

// unhealthy returns why an existing cluster must be rebuilt, or "".
func (p *Provisioner) unhealthy(ctx context.Context, eng *Engine, c topology.ClusterPlan, nodes []dockernet.Node) string {
	want := max(len(c.Nodes), 1)
	if len(nodes) != want {
		return fmt.Sprintf("%d of %d node containers", len(nodes), want)
	}
	for _, n := range nodes {
		if n.State != "running" {
			return fmt.Sprintf("node %s is %s", n.Name, n.State)
		}
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		if err := eng.Clusters.ExportKubeconfig(c.Name, c.Kubeconfig); err != nil {
			return fmt.Sprintf("kubeconfig missing and not exportable: %v", err)
		}
	}
	if err := p.apiReachable(ctx, c.Kubeconfig); err != nil {
		return fmt.Sprintf("API unreachable: %v", err)
	}
	if why := p.notReady(ctx, c); why != "" {
		return why
	}
	return p.profileMismatch(ctx, c)
}

// notReady returns why a kept cluster's nodes are not all Ready within
// nodeReadyGrace, or "". A create cut short after kubeadm (a killed up)
// leaves an API server that answers and a node that never becomes Ready
// (no CNI installed): such a cluster must be made again, or Multus waits
// for a primary network forever.
func (p *Provisioner) notReady(ctx context.Context, c topology.ClusterPlan) string {
	cs, _, err := p.kube(c.Kubeconfig)
	if err != nil {
		return fmt.Sprintf("API client: %v", err)
	}
	if p.waitNodes == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, p.nodeReadyGrace)
	defer cancel()
	if err := p.waitNodes(ctx, cs, max(len(c.Nodes), 1)); err != nil {
		return fmt.Sprintf("%v after %s (a create cut short?)", err, p.nodeReadyGrace)
	}
	return ""
}

func (p *Provisioner) apiReachable(ctx context.Context, kubeconfig string) error {
	cs, _, err := p.kube(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.apiTimeout)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	return err
}

// deleteUntilGone deletes cluster c and waits until none of its node
// containers is listed any more, deleting again every deleteRetry. After a
// SIGKILLed up, KinD's `docker run` child may still be making the node:
// the container stayed listed for seconds after KinD's delete, and the
// create right after it failed with "node(s) already exist". The KinD
// delete now waits for such a run first (internal/kind/stray.go); this
// loop stays the check that the cluster is gone before it is created.
func (p *Provisioner) deleteUntilGone(ctx context.Context, eng *Engine, net network.Summary, c topology.ClusterPlan) error {
	deadline := p.now().Add(deleteDeadline)
	for {
		if err := eng.Clusters.Delete(c.Name, c.Kubeconfig); err != nil {
			return err
		}
		nodes, err := eng.Network.Nodes(ctx, net, c.Name)
		if err != nil {
			return err
		}
		if len(nodes) == 0 {
			return nil
		}
		if p.now().After(deadline) {
			return fmt.Errorf("cluster %q: node container %s still exists %s after deleting it (is a `docker run` of a killed up still making it? `docker rm -f %s`)",
				c.Name, nodes[0].Name, deleteDeadline, nodes[0].Name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.deleteRetry):
		}
	}
}

// deleteDeadline bounds deleteUntilGone.
const deleteDeadline = time.Minute
