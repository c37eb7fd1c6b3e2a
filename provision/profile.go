package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/fluidos-lab/testbed/topology"
)

// The lean profile's CoreDNS: one replica (kubeadm deploys two and has no
// setting for it), with Go's garbage collector at GOGC=25 like the control
// plane's. On a new cluster this is applied right after create, while the
// node is not Ready yet and the CoreDNS pods still wait to be scheduled, so
// no running pod restarts; a lean cluster made before GOGC joined the
// profile gets it on its next up, with one CoreDNS rollout. A GOGC already
// in the container (a user's, of any form) is left as it is.
const (
	leanCoreDNSReplicas = 1
	leanCoreDNSGOGC     = "25"
)

// coreDNSPatch returns the strategic merge patch that makes the CoreDNS
// deployment lean and what it changes, nil when it already is.
func coreDNSPatch(d *appsv1.Deployment) ([]byte, []string) {
	spec := map[string]any{}
	var notes []string
	if d.Spec.Replicas == nil || *d.Spec.Replicas != leanCoreDNSReplicas {
		spec["replicas"] = leanCoreDNSReplicas
		notes = append(notes, fmt.Sprintf("CoreDNS scaled to %d", leanCoreDNSReplicas))
	}
	hasGOGC := false
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "coredns" {
			continue
		}
		for _, e := range c.Env {
			hasGOGC = hasGOGC || e.Name == "GOGC"
		}
		if !hasGOGC {
			// env merges by name into the coredns container.
			spec["template"] = map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "coredns", "env": []any{map[string]any{"name": "GOGC", "value": leanCoreDNSGOGC}}}}}}
			notes = append(notes, "CoreDNS GOGC="+leanCoreDNSGOGC)
		}
	}
	if len(spec) == 0 {
		return nil, nil
	}
	b, _ := json.Marshal(map[string]any{"spec": spec}) // maps of strings and ints: cannot fail
	return b, notes
}

// KinD's default storage: the local-path provisioner its node images
// install, and the StorageClass KinD falls back to without them (the
// controller manager's in-tree host-path provisioner, which KinD enables).
const (
	localPathNamespace   = "local-path-storage"
	localPathRBAC        = "local-path-provisioner-role" // ClusterRole; its binding is -bind
	localPathBinding     = "local-path-provisioner-bind"
	localPathProvisioner = "rancher.io/local-path"
	hostPathProvisioner  = "kubernetes.io/host-path"
	defaultStorageClass  = "standard"
	defaultClassKey      = "storageclass.kubernetes.io/is-default-class"
)

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
// profile scales CoreDNS to one replica (GOGC=25) and replaces the local-path
// provisioner by the in-tree host-path one (leanStorage). It returns a
// note, "" for none.
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
	var notes []string
	deps := cs.AppsV1().Deployments("kube-system")
	d, err := deps.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("lean profile: reading the CoreDNS deployment: %w", err)
	}
	if patch, what := coreDNSPatch(d); patch != nil {
		if _, err := deps.Patch(ctx, "coredns", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return "", fmt.Errorf("lean profile: %s: %w", strings.Join(what, ", "), err)
		}
		notes = append(notes, what...)
	}
	n, err := leanStorage(ctx, cs)
	if err != nil {
		return "", fmt.Errorf("lean profile: %w", err)
	}
	if n != "" {
		notes = append(notes, n)
	}
	if len(notes) == 0 {
		return "", nil
	}
	return "lean: " + strings.Join(notes, ", "), nil
}

// leanStorage gives a lean cluster the default storage KinD falls back to
// when its node image has no local-path manifest: the standard
// StorageClass on the controller manager's in-tree host-path provisioner
// (KinD runs it with --enable-hostpath-provisioner), so that a
// PersistentVolumeClaim still binds, to a directory on the node, without
// the local-path provisioner's pod (about 12 MiB of a node with its shim
// and sandbox: docs/scale.md). A standard class of another provisioner
// (a user's) is left alone. It returns a note, "" when nothing changed.
func leanStorage(ctx context.Context, cs kubernetes.Interface) (string, error) {
	changed, create := false, false
	scs := cs.StorageV1().StorageClasses()
	sc, err := scs.Get(ctx, defaultStorageClass, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		create = true
	case err != nil:
		return "", fmt.Errorf("reading StorageClass %s: %w", defaultStorageClass, err)
	case sc.Provisioner == localPathProvisioner:
		// A class's provisioner cannot change: delete it, then create it.
		if err := scs.Delete(ctx, defaultStorageClass, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("deleting the local-path StorageClass %s: %w", defaultStorageClass, err)
		}
		create = true
	}
	if create {
		del := corev1.PersistentVolumeReclaimDelete
		want := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: defaultStorageClass, Annotations: map[string]string{defaultClassKey: "true"}},
			Provisioner: hostPathProvisioner, ReclaimPolicy: &del}
		if _, err := scs.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("creating StorageClass %s on %s: %w", defaultStorageClass, hostPathProvisioner, err)
		}
		changed = true
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, localPathNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("reading namespace %s: %w", localPathNamespace, err)
	case ns.DeletionTimestamp == nil:
		if err := cs.CoreV1().Namespaces().Delete(ctx, localPathNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("deleting namespace %s (the local-path provisioner): %w", localPathNamespace, err)
		}
		changed = true
	}
	rbac := cs.RbacV1()
	if err := rbac.ClusterRoleBindings().Delete(ctx, localPathBinding, metav1.DeleteOptions{}); err == nil {
		changed = true
	} else if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting ClusterRoleBinding %s: %w", localPathBinding, err)
	}
	if err := rbac.ClusterRoles().Delete(ctx, localPathRBAC, metav1.DeleteOptions{}); err == nil {
		changed = true
	} else if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting ClusterRole %s: %w", localPathRBAC, err)
	}
	if !changed {
		return "", nil
	}
	return "storage on the in-tree host-path provisioner (local-path removed)", nil
}
