package sweep

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/workload"
	"github.com/fluidos-lab/testbed/topology"
)

// KubeWorkloads switches discovery workloads with the Kubernetes API
// (scenarios/workload, the same switch the runner cycles node A with).
type KubeWorkloads struct {
	// Client returns a cluster's typed client (the composition root's
	// kube client factory).
	Client func(kubeconfig string) (kubernetes.Interface, error)
	// Poll is the interval at which disabled clusters are checked for
	// remaining pods (default 500 ms); Timeout bounds that wait (default 2 min).
	Poll    time.Duration
	Timeout time.Duration
}

var _ Workloads = (*KubeWorkloads)(nil)

// Set implements Workloads.
func (k *KubeWorkloads) Set(ctx context.Context, plan *topology.Plan, p scenarios.Protocol, on, off []string) error {
	if k.Client == nil {
		return fmt.Errorf("sweep: no Kubernetes client factory")
	}
	poll, timeout := k.Poll, k.Timeout
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	byName := map[string]topology.ClusterPlan{}
	for _, c := range plan.Clusters {
		byName[c.Name] = c
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	do := func(name string, enable bool) {
		g.Go(func() error {
			cp, ok := byName[name]
			if !ok {
				return fmt.Errorf("cluster %q is not in lab %s", name, plan.Name)
			}
			cl, err := k.Client(cp.Kubeconfig)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", name, err)
			}
			if err := k.set(gctx, cl, p, enable, poll, timeout); err != nil {
				return fmt.Errorf("cluster %q: %w", name, err)
			}
			return nil
		})
	}
	for _, n := range on {
		do(n, true)
	}
	for _, n := range off {
		do(n, false)
	}
	return g.Wait()
}

// set switches one cluster; disabling waits until its pods are gone, and a
// protocol not installed there counts as off.
func (k *KubeWorkloads) set(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol, enable bool, poll, timeout time.Duration) error {
	info, err := workload.Read(ctx, cl, p)
	if err != nil {
		if apierrors.IsNotFound(err) && !enable {
			return nil
		}
		return err
	}
	if err := workload.Set(ctx, cl, p, enable, info.Replicas); err != nil {
		return err
	}
	if enable {
		return nil
	}
	return workload.WaitGone(ctx, cl, p, info.Selector, poll, timeout)
}
