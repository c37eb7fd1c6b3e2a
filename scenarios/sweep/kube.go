package sweep

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// KubeWorkloads switches discovery workloads with the Kubernetes API: a
// DaemonSet is disabled by a nodeSelector no node has (runner.DisabledLabel)
// and a Deployment by zero replicas (re-enabled to one).
type KubeWorkloads struct {
	// Client returns a cluster's client (default: from its kubeconfig).
	Client func(c topology.ClusterPlan) (kubernetes.Interface, error)
	// Poll is the interval at which disabled clusters are checked for
	// remaining pods (default 500 ms); Timeout bounds that wait (default 2 min).
	Poll    time.Duration
	Timeout time.Duration
}

var _ Workloads = (*KubeWorkloads)(nil)

// ClientFromKubeconfig builds a client from the cluster's own kubeconfig.
func ClientFromKubeconfig(c topology.ClusterPlan) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: loading kubeconfig %s: %w", c.Name, c.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: client: %w", c.Name, err)
	}
	return k, nil
}

// Set implements Workloads.
func (k *KubeWorkloads) Set(ctx context.Context, plan *topology.Plan, p scenarios.Protocol, on, off []string) error {
	if k.Client == nil {
		k.Client = ClientFromKubeconfig
	}
	if k.Poll <= 0 {
		k.Poll = 500 * time.Millisecond
	}
	if k.Timeout <= 0 {
		k.Timeout = 2 * time.Minute
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
			cl, err := k.Client(cp)
			if err != nil {
				return err
			}
			if err := setWorkload(gctx, cl, p, enable); err != nil {
				if apierrors.IsNotFound(err) && !enable {
					return nil
				}
				return fmt.Errorf("cluster %q: %w", name, err)
			}
			if !enable {
				return k.waitGone(gctx, cl, name, p)
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

func setWorkload(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol, enable bool) error {
	switch p.WorkloadKind {
	case scenarios.WorkloadDeployment:
		n := 0
		if enable {
			n = 1
		}
		d, err := cl.AppsV1().Deployments(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if enable && d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
			return nil // already running with its own replica count
		}
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
		_, err = cl.AppsV1().Deployments(p.WorkloadNamespace).Patch(ctx, p.WorkloadName, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("scaling Deployment %s/%s to %d: %w", p.WorkloadNamespace, p.WorkloadName, n, err)
		}
	default:
		v := "null"
		if !enable {
			v = `"true"`
		}
		patch := fmt.Appendf(nil, `{"spec":{"template":{"spec":{"nodeSelector":{%q:%s}}}}}`, runner.DisabledLabel, v)
		_, err := cl.AppsV1().DaemonSets(p.WorkloadNamespace).Patch(ctx, p.WorkloadName, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return err
			}
			return fmt.Errorf("patching DaemonSet %s/%s nodeSelector: %w", p.WorkloadNamespace, p.WorkloadName, err)
		}
	}
	return nil
}

// waitGone polls until no pod of the workload is left on the cluster.
func (k *KubeWorkloads) waitGone(ctx context.Context, cl kubernetes.Interface, name string, p scenarios.Protocol) error {
	sel, err := workloadSelector(ctx, cl, p)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", name, err)
	}
	deadline := time.Now().Add(k.Timeout)
	t := time.NewTicker(k.Poll)
	defer t.Stop()
	for {
		pods, err := cl.CoreV1().Pods(p.WorkloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("cluster %q: listing %s pods: %w", name, p.WorkloadName, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %q: %d pod(s) of %s still present after %s", name, len(pods.Items), p.WorkloadName, k.Timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %q: waiting for %s pods to go: %w", name, p.WorkloadName, ctx.Err())
		case <-t.C:
		}
	}
}

func workloadSelector(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol) (string, error) {
	var sel *metav1.LabelSelector
	switch p.WorkloadKind {
	case scenarios.WorkloadDeployment:
		d, err := cl.AppsV1().Deployments(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading Deployment %s/%s: %w", p.WorkloadNamespace, p.WorkloadName, err)
		}
		sel = d.Spec.Selector
	default:
		d, err := cl.AppsV1().DaemonSets(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading DaemonSet %s/%s: %w", p.WorkloadNamespace, p.WorkloadName, err)
		}
		sel = d.Spec.Selector
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return "", fmt.Errorf("workload %s/%s has no usable pod selector (%v)", p.WorkloadNamespace, p.WorkloadName, err)
	}
	return s.String(), nil
}
