package helm

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	multuschart "github.com/fluidos-lab/testbed/charts/multus"
	"github.com/fluidos-lab/testbed/topology"
)

const (
	// MultusChartName is the builtin (embedded) Multus chart.
	MultusChartName = "multus"
	// MultusChartVersion is the embedded chart's version.
	MultusChartVersion = "4.2.2-testbed.3"
	// MultusNamespace is where the Multus DaemonSet runs.
	MultusNamespace = "kube-system"
	// MultusRelease is the Helm release name of Multus.
	MultusRelease = "multus"
	// MultusDaemonSet is the Multus DaemonSet's name.
	MultusDaemonSet = "kube-multus-ds"
)

func multusChartFS() fs.FS { return multuschart.Files }

// MultusChart returns the release that installs the pinned Multus thin plugin
// on cluster c, with the image from plan.Multus.
func MultusChart(plan *topology.Plan, c topology.ClusterPlan) (topology.ChartPlan, error) {
	img := plan.Multus.Image
	if img == "" {
		return topology.ChartPlan{}, fmt.Errorf("cluster %s: plan has no multus image", c.Name)
	}
	repo, tag, err := splitImage(img)
	if err != nil {
		return topology.ChartPlan{}, fmt.Errorf("cluster %s: multus image: %w", c.Name, err)
	}
	return topology.ChartPlan{
		Name:      MultusChartName,
		Release:   MultusRelease,
		Namespace: MultusNamespace,
		Chart:     BuiltinPrefix + MultusChartName,
		Version:   MultusChartVersion,
		Values: map[string]any{
			"image": map[string]any{"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
			"labels": map[string]any{
				"dev.testbed.managed":  "true",
				"dev.testbed.topology": plan.Name,
				"dev.testbed.cluster":  c.Name,
			},
		},
		Images: []string{img},
	}, nil
}

// splitImage splits "registry/repo:tag" (a digest is kept with the tag part).
func splitImage(img string) (repo, tag string, err error) {
	if i := strings.Index(img, "@"); i >= 0 {
		return "", "", fmt.Errorf("%q: pin a tag, not a digest", img)
	}
	slash := strings.LastIndex(img, "/")
	colon := strings.LastIndex(img, ":")
	if colon <= slash || colon == len(img)-1 {
		return "", "", fmt.Errorf("%q has no pinned tag", img)
	}
	return img[:colon], img[colon+1:], nil
}

// WaitMultusReady waits until the Multus DaemonSet is ready on the cluster.
// Helm's own wait is not enough: it accepts a DaemonSet with maxUnavailable
// pods unready, which on a single-node cluster is all of them.
func WaitMultusReady(ctx context.Context, cs kubernetes.Interface) error {
	return WaitDaemonSetReady(ctx, cs, MultusNamespace, MultusDaemonSet)
}

// WaitFluidosReady waits until the FLUIDOS Network Manager DaemonSet is ready
// on the cluster.
func WaitFluidosReady(ctx context.Context, cs kubernetes.Interface) error {
	return WaitDaemonSetReady(ctx, cs, FluidosNamespace, FluidosDaemonSet)
}

// DaemonSetReady reports whether ds has rolled out: the controller observed
// the latest generation, at least one pod is scheduled, and every scheduled
// pod is updated and available.
func DaemonSetReady(ds *appsv1.DaemonSet) bool {
	st := ds.Status
	return st.ObservedGeneration >= ds.Generation &&
		st.DesiredNumberScheduled > 0 &&
		st.UpdatedNumberScheduled == st.DesiredNumberScheduled &&
		st.NumberAvailable == st.DesiredNumberScheduled &&
		st.NumberReady == st.DesiredNumberScheduled
}

// WaitDaemonSetReady watches namespace/name until DaemonSetReady holds or ctx
// ends (use a context deadline to bound the wait). It does not poll.
func WaitDaemonSetReady(ctx context.Context, cs kubernetes.Interface, namespace, name string) error {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return cs.AppsV1().DaemonSets(namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return cs.AppsV1().DaemonSets(namespace).Watch(ctx, o)
		},
	}
	var last *appsv1.DaemonSet
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.DaemonSet{}, nil, func(ev watch.Event) (bool, error) {
		ds, ok := ev.Object.(*appsv1.DaemonSet)
		if !ok {
			return false, nil
		}
		last = ds
		return ev.Type != watch.Deleted && DaemonSetReady(ds), nil
	})
	if err != nil {
		if last != nil {
			s := last.Status
			return fmt.Errorf("daemonset %s/%s not ready (%d/%d ready, %d updated): %w",
				namespace, name, s.NumberReady, s.DesiredNumberScheduled, s.UpdatedNumberScheduled, err)
		}
		return fmt.Errorf("daemonset %s/%s not found: %w", namespace, name, err)
	}
	return nil
}

// MultusConfFile is where the thin plugin writes its CNI configuration on
// every node once it has found the primary network's: from then on new
// pods get their secondary networks.
const MultusConfFile = "/etc/cni/net.d/00-multus.conf"

// WaitNodesReady watches the cluster's nodes until want of them are Ready
// or ctx ends, without polling.
func WaitNodesReady(ctx context.Context, cs kubernetes.Interface, want int) error {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Nodes().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Nodes().Watch(ctx, o)
		},
	}
	ready := map[string]bool{}
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(ev watch.Event) (bool, error) {
		n, ok := ev.Object.(*corev1.Node)
		if !ok {
			return false, nil
		}
		ready[n.Name] = ev.Type != watch.Deleted && NodeReady(n)
		count := 0
		for _, r := range ready {
			if r {
				count++
			}
		}
		return count >= want, nil
	})
	if err != nil {
		var not []string
		for n, r := range ready {
			if !r {
				not = append(not, n)
			}
		}
		sort.Strings(not)
		return fmt.Errorf("nodes not Ready %v (%d seen, %d wanted): %w", not, len(ready), want, err)
	}
	return nil
}

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
