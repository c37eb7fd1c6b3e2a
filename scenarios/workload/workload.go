package workload

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/scenarios"
)

// DisabledLabel is the node label no node has; a DaemonSet whose pod
// template selects it runs nowhere.
const DisabledLabel = "testbed.dev/disabled"

// Info is what the API says of a workload: the selector of its pods and,
// for a Deployment, the replica count it runs with when enabled (at least 1).
type Info struct {
	Selector labels.Selector
	Replicas int32
}

// Read reads the workload of protocol p on a cluster.
func Read(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol) (Info, error) {
	var sel *metav1.LabelSelector
	info := Info{Replicas: 1}
	switch p.WorkloadKind {
	case scenarios.WorkloadDeployment:
		d, err := cl.AppsV1().Deployments(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		if err != nil {
			return Info{}, fmt.Errorf("reading Deployment %s/%s: %w", p.WorkloadNamespace, p.WorkloadName, err)
		}
		sel = d.Spec.Selector
		if d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
			info.Replicas = *d.Spec.Replicas
		}
	default:
		d, err := cl.AppsV1().DaemonSets(p.WorkloadNamespace).Get(ctx, p.WorkloadName, metav1.GetOptions{})
		if err != nil {
			return Info{}, fmt.Errorf("reading DaemonSet %s/%s: %w", p.WorkloadNamespace, p.WorkloadName, err)
		}
		sel = d.Spec.Selector
	}
	if sel == nil {
		return Info{}, fmt.Errorf("workload %s/%s has no pod selector", p.WorkloadNamespace, p.WorkloadName)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return Info{}, fmt.Errorf("workload %s/%s has no usable pod selector (%v)", p.WorkloadNamespace, p.WorkloadName, err)
	}
	info.Selector = s
	return info, nil
}

// Set enables or disables the workload. replicas is the Deployment's count
// when enabled (Info.Replicas); it is ignored for a DaemonSet. A NotFound
// error is returned as is (apierrors.IsNotFound) so that callers can treat a
// protocol absent from a cluster as off.
func Set(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol, on bool, replicas int32) error {
	var err error
	switch p.WorkloadKind {
	case scenarios.WorkloadDeployment:
		n := int32(0)
		if on {
			n = max(replicas, 1)
		}
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
		_, err = cl.AppsV1().Deployments(p.WorkloadNamespace).Patch(ctx, p.WorkloadName, types.MergePatchType, patch, metav1.PatchOptions{})
	default:
		v := "null"
		if !on {
			v = `"true"`
		}
		patch := fmt.Appendf(nil, `{"spec":{"template":{"spec":{"nodeSelector":{%q:%s}}}}}`, DisabledLabel, v)
		_, err = cl.AppsV1().DaemonSets(p.WorkloadNamespace).Patch(ctx, p.WorkloadName, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		verb := "disabling"
		if on {
			verb = "enabling"
		}
		return fmt.Errorf("%s %s %s/%s: %w", verb, p.WorkloadKind, p.WorkloadNamespace, p.WorkloadName, err)
	}
	return nil
}

// WaitGone polls every poll until no pod of the workload is left, or
// timeout, or ctx ends. (The runner waits on its own watch instead.)
func WaitGone(ctx context.Context, cl kubernetes.Interface, p scenarios.Protocol, sel labels.Selector, poll, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		pods, err := cl.CoreV1().Pods(p.WorkloadNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return fmt.Errorf("listing %s pods: %w", p.WorkloadName, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pod(s) of %s still present after %s", len(pods.Items), p.WorkloadName, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s pods to go: %w", p.WorkloadName, ctx.Err())
		case <-t.C:
		}
	}
}
