package helm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// crdWaitClient is Helm's Kubernetes client with one wait replaced: after
// creating a chart's CRDs (its crds/ directory), Helm waits for them to be
// Established even when the release is installed without --wait, and its
// waiter polls every 2 s, so every chart that ships CRDs paid up to 2 s
// for a condition the API server sets within milliseconds. Here that wait
// watches the CRDs instead. Every other wait, and every other method, is
// Helm's own (embedding *kube.Client keeps the optional interfaces Helm's
// actions look for, such as kube.InterfaceExt).
type crdWaitClient struct {
	*kube.Client
	// dynamic returns the client the CRD watch uses.
	dynamic func() (dynamic.Interface, error)
	// fallback is Helm's wait, for any list that is not only CRDs.
	fallback func(kube.ResourceList, time.Duration) error
}

// withCRDWatch wraps Helm's client; any other kube.Interface (a fake in
// tests) is returned as it is.
func withCRDWatch(kc kube.Interface) kube.Interface {
	c, ok := kc.(*kube.Client)
	if !ok {
		return kc
	}
	return &crdWaitClient{Client: c, dynamic: c.Factory.DynamicClient, fallback: c.Wait}
}

var crdGroupKind = schema.GroupKind{Group: apiextv1.GroupName, Kind: "CustomResourceDefinition"}

var crdResource = apiextv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// Wait implements kube.Interface: a list of CRDs alone (what Helm's CRD
// install passes) is watched until every CRD is ready by Helm's own rule;
// anything else goes to Helm's waiter.
func (c *crdWaitClient) Wait(resources kube.ResourceList, timeout time.Duration) error {
	if len(resources) == 0 || !onlyCRDs(resources) {
		return c.fallback(resources, timeout)
	}
	dc, err := c.dynamic()
	if err != nil {
		return fmt.Errorf("waiting for CRDs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, r := range resources {
		if err := waitCRDReady(ctx, dc, r.Name); err != nil {
			return err
		}
	}
	return nil
}

func onlyCRDs(resources kube.ResourceList) bool {
	for _, r := range resources {
		if r.Mapping == nil || r.Mapping.GroupVersionKind.GroupKind() != crdGroupKind {
			return false
		}
	}
	return true
}

// waitCRDReady watches the CRD name until crdReady holds or ctx ends. It
// reads the CRD first: an error other than not found (forbidden, say) ends
// the wait at once, as in Helm's waiter, where the watch's reflector would
// retry it until the deadline; a CRD already ready needs no watch.
func waitCRDReady(ctx context.Context, dc dynamic.Interface, name string) error {
	crds := dc.Resource(crdResource)
	got, err := crds.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading CRD %s: %w", name, err)
	default:
		if crd, cerr := toCRD(got); cerr == nil && crdReady(crd) {
			return nil
		}
	}
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	var mu sync.Mutex
	var lwErr error // the last list or watch error, which the reflector retries
	note := func(err error) {
		if err != nil {
			mu.Lock()
			lwErr = err
			mu.Unlock()
		}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			l, err := crds.List(ctx, o)
			note(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			w, err := crds.Watch(ctx, o)
			note(err)
			return w, err
		},
	}
	var last *apiextv1.CustomResourceDefinition
	var convErr error
	_, err = watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok || ev.Type == watch.Deleted || u.GetName() != name {
			return false, nil
		}
		crd, err := toCRD(u)
		if err != nil {
			convErr = err
			return false, nil
		}
		last = crd
		return crdReady(crd), nil
	})
	if err == nil {
		return nil
	}
	mu.Lock()
	if lwErr != nil {
		err = fmt.Errorf("%w (last list/watch error: %v)", err, lwErr)
	}
	mu.Unlock()
	switch {
	case last != nil:
		return fmt.Errorf("CRD %s not established (conditions %s): %w", name, crdConditions(last), err)
	case convErr != nil:
		return fmt.Errorf("CRD %s unreadable (%v): %w", name, convErr, err)
	}
	return fmt.Errorf("CRD %s not found: %w", name, err)
}

func toCRD(u *unstructured.Unstructured) (*apiextv1.CustomResourceDefinition, error) {
	crd := new(apiextv1.CustomResourceDefinition)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
		return nil, err
	}
	return crd, nil
}

// crdReady is Helm's rule (kube.ReadyChecker): Established, or names not
// accepted, a conflict Helm leaves to the API calls that follow.
func crdReady(crd *apiextv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		switch {
		case c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue:
			return true
		case c.Type == apiextv1.NamesAccepted && c.Status == apiextv1.ConditionFalse:
			return true
		}
	}
	return false
}

func crdConditions(crd *apiextv1.CustomResourceDefinition) string {
	if len(crd.Status.Conditions) == 0 {
		return "none yet"
	}
	s := ""
	for i, c := range crd.Status.Conditions {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s=%s", c.Type, c.Status)
	}
	return s
}
