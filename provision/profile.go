package provision

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluidos-lab/testbed/topology"
)

// leanCoreDNSReplicas is the CoreDNS replica count of the lean profile
// (kubeadm deploys two and has no setting for it).
const leanCoreDNSReplicas = 1

// profileMismatch returns why a kept cluster's profile differs from the
// plan's, or "". A node without the label predates profiles: stock.
func (p *Provisioner) profileMismatch(ctx context.Context, c topology.ClusterPlan) string {
	cs, _, err := p.kube(c.Kubeconfig)
	if err != nil {
		return fmt.Sprintf("API client: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.apiTimeout)
	defer cancel()
	node, err := cs.CoreV1().Nodes().Get(ctx, c.Name+"-control-plane", metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("reading node %s-control-plane: %v", c.Name, err)
	}
	have, want := topology.EffectiveProfile(node.Labels[topology.ProfileLabel]), c.NodeProfile()
	if have != want {
		return fmt.Sprintf("made with the %s profile, the topology asks for %s", have, want)
	}
	return ""
}

// applyProfile does the part of a profile kind's config cannot: the lean
// profile scales CoreDNS to one replica. It returns a note, "" for none.
func (p *Provisioner) applyProfile(ctx context.Context, c topology.ClusterPlan) (string, error) {
	if c.Profile != topology.ProfileLean {
		return "", nil
	}
	cs, _, err := p.kube(c.Kubeconfig)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.apiTimeout)
	defer cancel()
	deps := cs.AppsV1().Deployments("kube-system")
	d, err := deps.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("lean profile: reading the CoreDNS deployment: %w", err)
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas == leanCoreDNSReplicas {
		return "", nil
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, leanCoreDNSReplicas)
	if _, err := deps.Patch(ctx, "coredns", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("lean profile: scaling CoreDNS to %d: %w", leanCoreDNSReplicas, err)
	}
	return fmt.Sprintf("lean: CoreDNS scaled to %d", leanCoreDNSReplicas), nil
}
