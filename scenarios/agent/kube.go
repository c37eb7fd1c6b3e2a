package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// The Peer custom resource (contract with the runner and selftest).
const (
	Group     = "agent.testbed.dev"
	Version   = "v1alpha1"
	KindPeer  = "Peer"
	Resource  = "peers"
	Namespace = "testbed-agent"

	// AnnotationFirstRecvNS is the Unix ns at which the announcement that
	// created the object was read from the socket.
	AnnotationFirstRecvNS = Group + "/first-recv-ns"
	// AnnotationFirstSendNS is that announcement's send time (Unix ns).
	AnnotationFirstSendNS = Group + "/first-send-ns"
	// AnnotationPeerStartNS is when the peer's agent started (Unix ns).
	AnnotationPeerStartNS = Group + "/peer-start-ns"
	// AnnotationObserverStartNS is when the observing agent started (Unix ns).
	AnnotationObserverStartNS = Group + "/observer-start-ns"
	// LabelObserver names the cluster whose agent wrote the object.
	LabelObserver = Group + "/observer"
	// LabelPeer names the peer cluster.
	LabelPeer = Group + "/peer"
)

// PeerGVR is the resource of Peer objects.
var PeerGVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// ObjectName is the name of the Peer object for cluster.
func ObjectName(cluster string) string { return "peer-" + cluster }

// KubeStore writes Peer objects with a dynamic client.
type KubeStore struct {
	client    dynamic.Interface
	namespace string
	observer  string
}

var _ PeerStore = (*KubeStore)(nil)

// NewKubeStore writes the Peers of observer (this agent's cluster) into namespace.
func NewKubeStore(client dynamic.Interface, namespace, observer string) *KubeStore {
	return &KubeStore{client: client, namespace: namespace, observer: observer}
}

func (s *KubeStore) res() dynamic.ResourceInterface {
	return s.client.Resource(PeerGVR).Namespace(s.namespace)
}

// PeerObject renders p as an unstructured Peer in namespace.
func PeerObject(p Peer, namespace string) *unstructured.Unstructured {
	groups := make([]any, 0, len(p.Groups))
	for _, g := range p.Groups {
		groups = append(groups, g)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": Group + "/" + Version,
		"kind":       KindPeer,
		"metadata": map[string]any{
			"name":      ObjectName(p.Cluster),
			"namespace": namespace,
			"labels": map[string]any{
				LabelObserver:                  p.Observer,
				LabelPeer:                      p.Cluster,
				"app.kubernetes.io/managed-by": "testbed-agent",
			},
			"annotations": map[string]any{
				AnnotationFirstRecvNS:     strconv.FormatInt(p.FirstRecvNS, 10),
				AnnotationFirstSendNS:     strconv.FormatInt(p.FirstSendNS, 10),
				AnnotationPeerStartNS:     strconv.FormatInt(p.PeerStartNS, 10),
				AnnotationObserverStartNS: strconv.FormatInt(p.ObserverStartNS, 10),
			},
		},
		"spec": specOf(p, groups),
	}}
	return u
}

func specOf(p Peer, groups []any) map[string]any {
	return map[string]any{
		"cluster":  p.Cluster,
		"address":  p.Address,
		"groups":   groups,
		"lastSeen": p.LastSeen.UTC().Format(time.RFC3339Nano),
		"expiry":   p.Expiry.UTC().Format(time.RFC3339Nano),
	}
}

// Create implements PeerStore; an existing object is replaced so that its
// annotations describe this discovery.
func (s *KubeStore) Create(ctx context.Context, p Peer) error {
	obj := PeerObject(p, s.namespace)
	_, err := s.res().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := s.res().Get(ctx, obj.GetName(), metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("cluster %s: replacing peer %s: %w", s.observer, obj.GetName(), gerr)
		}
		obj.SetResourceVersion(old.GetResourceVersion())
		_, err = s.res().Update(ctx, obj, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("cluster %s: creating peer %s/%s: %w", s.observer, s.namespace, obj.GetName(), err)
	}
	return nil
}

// Update implements PeerStore with a merge patch of spec.
func (s *KubeStore) Update(ctx context.Context, p Peer) error {
	groups := make([]any, 0, len(p.Groups))
	for _, g := range p.Groups {
		groups = append(groups, g)
	}
	patch, err := json.Marshal(map[string]any{"spec": specOf(p, groups)})
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	name := ObjectName(p.Cluster)
	_, err = s.res().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster %s: updating peer %s/%s: %w", s.observer, s.namespace, name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("cluster %s: updating peer %s/%s: %w", s.observer, s.namespace, name, err)
	}
	return nil
}

// Delete implements PeerStore.
func (s *KubeStore) Delete(ctx context.Context, cluster string) error {
	name := ObjectName(cluster)
	err := s.res().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster %s: deleting peer %s/%s: %w", s.observer, s.namespace, name, err)
	}
	return nil
}

// Purge implements PeerStore: it deletes every Peer in the namespace, since
// they describe discoveries of an earlier instance of this agent.
func (s *KubeStore) Purge(ctx context.Context) (int, error) {
	list, err := s.res().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("cluster %s: listing peers in %s: %w", s.observer, s.namespace, err)
	}
	n := 0
	var errs []string
	for _, item := range list.Items {
		err := s.res().Delete(ctx, item.GetName(), metav1.DeleteOptions{})
		switch {
		case err == nil:
			n++
		case !apierrors.IsNotFound(err):
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("cluster %s: purging peers in %s: %s", s.observer, s.namespace, strings.Join(errs, "; "))
	}
	return n, nil
}

// PeerFromObject reads a Peer back from an object written by KubeStore.
func PeerFromObject(u *unstructured.Unstructured) (Peer, error) {
	var p Peer
	var err error
	p.Cluster, _, _ = unstructured.NestedString(u.Object, "spec", "cluster")
	p.Address, _, _ = unstructured.NestedString(u.Object, "spec", "address")
	p.Groups, _, _ = unstructured.NestedStringSlice(u.Object, "spec", "groups")
	if s, _, _ := unstructured.NestedString(u.Object, "spec", "lastSeen"); s != "" {
		if p.LastSeen, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return p, fmt.Errorf("peer %s: lastSeen: %w", u.GetName(), err)
		}
	}
	if s, _, _ := unstructured.NestedString(u.Object, "spec", "expiry"); s != "" {
		if p.Expiry, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return p, fmt.Errorf("peer %s: expiry: %w", u.GetName(), err)
		}
	}
	ann := u.GetAnnotations()
	for _, f := range []struct {
		key string
		dst *int64
	}{
		{AnnotationFirstRecvNS, &p.FirstRecvNS},
		{AnnotationFirstSendNS, &p.FirstSendNS},
		{AnnotationPeerStartNS, &p.PeerStartNS},
		{AnnotationObserverStartNS, &p.ObserverStartNS},
	} {
		v, ok := ann[f.key]
		if !ok {
			continue
		}
		if *f.dst, err = strconv.ParseInt(v, 10, 64); err != nil {
			return p, fmt.Errorf("peer %s: annotation %s: %w", u.GetName(), f.key, err)
		}
	}
	p.Observer = u.GetLabels()[LabelObserver]
	if p.Cluster == "" {
		return p, fmt.Errorf("peer %s: spec.cluster is empty", u.GetName())
	}
	return p, nil
}
