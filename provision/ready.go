package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluidos-lab/testbed/internal/helm"
)

// ready waits until the cluster can take the discovery workloads: its
// nodes Ready (KinD's create returns before, so that Multus is installed
// meanwhile), the Multus DaemonSet ready, and Multus' configuration on
// every node. Only then do new pods get their macvlan interface: a pod
// sandboxed before Multus has written its configuration gets the primary
// network alone, and keeps it.
func (u *upRun) ready(ctx context.Context, s *clusterState) (string, bool, error) {
	p := u.p
	cs, _, err := p.kube(s.plan.Kubeconfig)
	if err != nil {
		return "", false, err
	}
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if p.waitNodes != nil {
		if err := p.waitNodes(wctx, cs, max(len(s.nodes), 1)); err != nil {
			return "", false, fmt.Errorf("nodes not Ready within %s: %w", readyTimeout, err)
		}
	}
	at := u.since()
	u.mu.Lock()
	u.rep.NodesReady[s.plan.Name] = at
	u.mu.Unlock()
	if p.waitMultus != nil {
		if err := p.waitMultus(wctx, cs); err != nil {
			return "", false, fmt.Errorf("multus DaemonSet not ready within %s: %w", readyTimeout, err)
		}
	}
	if err := p.waitMultusConf(wctx, s); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("nodes Ready at %s, Multus configured", at.Round(100*time.Millisecond)), false, nil
}

// waitMultusConf polls every node until Multus' configuration file exists
// (the thin plugin writes it once the primary network's is there).
func (p *Provisioner) waitMultusConf(ctx context.Context, s *clusterState) error {
	x := s.host.eng.Exec
	if x == nil {
		return nil
	}
	for _, n := range s.nodes {
		for {
			_, _, err := x.Exec(ctx, n.Name, []string{"test", "-f", helm.MultusConfFile}, nil)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("node %s: no %s within %s (Multus found no primary network?): last check: %s", n.Name, helm.MultusConfFile, readyTimeout, strings.TrimSpace(err.Error()))
			}
			select {
			case <-ctx.Done():
			case <-time.After(p.confPoll):
			}
		}
	}
	return nil
}
