package provision

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fluidos-lab/testbed/topology"
)

// NADResource is the NetworkAttachmentDefinition resource of Multus.
var NADResource = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

// fluidosNamespace gets its NAD from the FLUIDOS chart's pre-install hook;
// creating it first would make that hook fail.
const fluidosNamespace = "fluidos"

// NADConfig is the CNI configuration of one cluster's macvlan attachment:
// bridge mode on the node's interface on the shared network, host-local
// IPAM with the cluster's /24 and its single-address range.
func NADConfig(plan *topology.Plan, c topology.ClusterPlan) (string, error) {
	if c.Macvlan.Subnet == "" || c.Macvlan.RangeStart == "" || c.Macvlan.RangeEnd == "" || plan.Macvlan.Master == "" || plan.Macvlan.Mode == "" {
		return "", fmt.Errorf("the plan has no complete macvlan settings for cluster %q (compute it with topology.Plan)", c.Name)
	}
	cfg := map[string]any{
		"cniVersion": "0.3.1",
		"name":       plan.Macvlan.NADName,
		"type":       "macvlan",
		"master":     plan.Macvlan.Master,
		"mode":       plan.Macvlan.Mode,
		"ipam": map[string]any{
			"type":       "host-local",
			"subnet":     c.Macvlan.Subnet,
			"rangeStart": c.Macvlan.RangeStart,
			"rangeEnd":   c.Macvlan.RangeEnd,
		},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// nadNamespaces are the plan's NAD namespaces without fluidos.
func nadNamespaces(plan *topology.Plan) []string {
	var out []string
	for _, ns := range plan.Macvlan.NADNamespaces {
		if ns != fluidosNamespace && ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// ensureNADs creates or updates the NAD in each planned namespace of one
// cluster, creating the namespace when needed.
func (p *Provisioner) ensureNADs(ctx context.Context, plan *topology.Plan, s *clusterState) (string, bool, error) {
	namespaces := nadNamespaces(plan)
	if len(namespaces) == 0 {
		return "no namespace planned", false, nil
	}
	cfg, err := NADConfig(plan, s.plan)
	if err != nil {
		return "", false, err
	}
	cs, dc, err := p.kube(s.plan.Kubeconfig)
	if err != nil {
		return "", false, err
	}
	changed := false
	for _, ns := range namespaces {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name:   ns,
				Labels: map[string]string{"dev.testbed.managed": "true", "dev.testbed.topology": plan.Name},
			}}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
			changed = true
		}
		if err != nil {
			return "", false, fmt.Errorf("namespace %s: %w", ns, err)
		}
		res := dc.Resource(NADResource).Namespace(ns)
		cur, err := res.Get(ctx, plan.Macvlan.NADName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "k8s.cni.cncf.io/v1",
				"kind":       "NetworkAttachmentDefinition",
				"metadata": map[string]any{
					"name":      plan.Macvlan.NADName,
					"namespace": ns,
					"labels":    map[string]any{"dev.testbed.managed": "true", "dev.testbed.topology": plan.Name, "dev.testbed.cluster": s.plan.Name},
				},
				"spec": map[string]any{"config": cfg},
			}}
			if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				return "", false, fmt.Errorf("creating NAD %s/%s: %w", ns, plan.Macvlan.NADName, err)
			}
			changed = true
		case err != nil:
			return "", false, fmt.Errorf("reading NAD %s/%s: %w", ns, plan.Macvlan.NADName, err)
		default:
			got, _, _ := unstructured.NestedString(cur.Object, "spec", "config")
			if got == cfg {
				continue
			}
			if err := unstructured.SetNestedField(cur.Object, cfg, "spec", "config"); err != nil {
				return "", false, err
			}
			if _, err := res.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return "", false, fmt.Errorf("updating NAD %s/%s: %w", ns, plan.Macvlan.NADName, err)
			}
			changed = true
		}
	}
	if changed {
		return fmt.Sprintf("%s in %v", plan.Macvlan.NADName, namespaces), true, nil
	}
	return "present", false, nil
}
