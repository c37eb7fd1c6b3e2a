package helm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/kube"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/dynamic"
	dynfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

const crdName = "peers.agent.testbed.dev"

func crdObject(t *testing.T, name string, conds ...apiextv1.CustomResourceDefinitionCondition) *unstructured.Unstructured {
	t.Helper()
	crd := &apiextv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiextv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     apiextv1.CustomResourceDefinitionStatus{Conditions: conds},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func crdInfo(name string) *resource.Info {
	return &resource.Info{Name: name, Mapping: &meta.RESTMapping{GroupVersionKind: apiextv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")}}
}

var (
	established   = apiextv1.CustomResourceDefinitionCondition{Type: apiextv1.Established, Status: apiextv1.ConditionTrue}
	notYet        = apiextv1.CustomResourceDefinitionCondition{Type: apiextv1.Established, Status: apiextv1.ConditionFalse}
	namesRejected = apiextv1.CustomResourceDefinitionCondition{Type: apiextv1.NamesAccepted, Status: apiextv1.ConditionFalse}
)

// The CRD wait Helm runs after installing a chart's CRDs is a watch: it
// returns as soon as the CRD is ready by Helm's rule (Established, or its
// names rejected), whatever other CRDs say, and names the CRD and its
// conditions when it times out. Any other list goes to Helm's own waiter.
func TestCRDWaitClient(t *testing.T) {
	tests := []struct {
		name      string
		objects   []runtime.Object
		resources kube.ResourceList
		// later is sent on the watch once it is open (nil: nothing).
		later        *unstructured.Unstructured
		timeout      time.Duration
		react        func(*dynfake.FakeDynamicClient)
		wantErr      string
		wantFallback bool
	}{
		{name: "already established", objects: []runtime.Object{crdObject(t, crdName, established)},
			resources: kube.ResourceList{crdInfo(crdName)}},
		{name: "established while watched", objects: []runtime.Object{crdObject(t, crdName, notYet)},
			resources: kube.ResourceList{crdInfo(crdName)}, later: crdObject(t, crdName, established)},
		{name: "names rejected counts as ready, as in Helm", objects: []runtime.Object{crdObject(t, crdName, namesRejected)},
			resources: kube.ResourceList{crdInfo(crdName)}},
		{name: "another CRD's status is not this one's",
			objects:   []runtime.Object{crdObject(t, crdName), crdObject(t, "other.agent.testbed.dev", established)},
			resources: kube.ResourceList{crdInfo(crdName)}, timeout: 100 * time.Millisecond,
			wantErr: "CRD peers.agent.testbed.dev not established (conditions none yet)"},
		{name: "timeout names the CRD and its conditions", objects: []runtime.Object{crdObject(t, crdName, notYet)},
			resources: kube.ResourceList{crdInfo(crdName)}, timeout: 100 * time.Millisecond,
			wantErr: "CRD peers.agent.testbed.dev not established (conditions Established=False)"},
		{name: "absent CRD", resources: kube.ResourceList{crdInfo(crdName)}, timeout: 100 * time.Millisecond,
			wantErr: "CRD peers.agent.testbed.dev not found"},
		{name: "forbidden ends the wait at once, with the API's error", objects: []runtime.Object{crdObject(t, crdName, notYet)},
			resources: kube.ResourceList{crdInfo(crdName)}, react: forbid("get"), wantErr: `reading CRD peers.agent.testbed.dev: customresourcedefinitions.apiextensions.k8s.io "peers.agent.testbed.dev" is forbidden`},
		{name: "a list the reflector retries is named at the deadline", objects: []runtime.Object{crdObject(t, crdName, notYet)},
			resources: kube.ResourceList{crdInfo(crdName)}, react: forbid("list"), timeout: 100 * time.Millisecond,
			wantErr: "last list/watch error: customresourcedefinitions.apiextensions.k8s.io"},
		{name: "other kinds go to Helm's waiter", wantFallback: true,
			resources: kube.ResourceList{crdInfo(crdName), {Name: "x", Mapping: &meta.RESTMapping{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
				map[schema.GroupVersionResource]string{crdResource: "CustomResourceDefinitionList"}, tt.objects...)
			if tt.react != nil {
				tt.react(dc)
			}
			if tt.later != nil {
				w := watch.NewFake()
				dc.PrependWatchReactor("customresourcedefinitions", func(k8stesting.Action) (bool, watch.Interface, error) {
					go w.Modify(tt.later) // blocks until the waiter reads it
					return true, w, nil
				})
			}
			fellBack := false
			c := &crdWaitClient{
				dynamic: func() (dynamic.Interface, error) { return dc, nil },
				fallback: func(r kube.ResourceList, d time.Duration) error {
					fellBack = len(r) == len(tt.resources) && d == time.Minute
					return nil
				},
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = time.Minute
			}
			err := c.Wait(tt.resources, timeout)
			if fellBack != tt.wantFallback {
				t.Errorf("Helm's waiter called: %v, want %v", fellBack, tt.wantFallback)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if timedOut := errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timed out"); timedOut != (tt.timeout != 0) {
				t.Errorf("error %v: timed out %v, want %v", err, timedOut, tt.timeout != 0)
			}
		})
	}
}

// forbid makes the fake API server refuse verb on CRDs.
func forbid(verb string) func(*dynfake.FakeDynamicClient) {
	return func(dc *dynfake.FakeDynamicClient) {
		dc.PrependReactor(verb, "customresourcedefinitions", func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: apiextv1.GroupName, Resource: "customresourcedefinitions"}, crdName, errors.New("no RBAC"))
		})
	}
}

// Only Helm's real client is wrapped; fakes pass through.
func TestWithCRDWatch(t *testing.T) {
	fake := &kubefake.PrintingKubeClient{}
	if got := withCRDWatch(fake); got != kube.Interface(fake) {
		t.Errorf("fake client wrapped: %T", got)
	}
	real := kube.New(nil)
	got, ok := withCRDWatch(real).(*crdWaitClient)
	if !ok || got.Client != real {
		t.Fatalf("Helm's client not wrapped: %T", got)
	}
	// The optional interfaces Helm's actions look for survive the wrap.
	if _, ok := kube.Interface(got).(kube.InterfaceExt); !ok {
		t.Error("wrapped client lost kube.InterfaceExt (uninstall's WaitForDelete)")
	}
	if _, ok := kube.Interface(got).(kube.InterfaceThreeWayMerge); !ok {
		t.Error("wrapped client lost kube.InterfaceThreeWayMerge")
	}
}
