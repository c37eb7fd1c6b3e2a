package provision

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kfake "k8s.io/client-go/kubernetes/fake"

	"github.com/fluidos-lab/testbed/internal/dockernet"
	"github.com/fluidos-lab/testbed/internal/helm"
	"github.com/fluidos-lab/testbed/internal/kind"
	"github.com/fluidos-lab/testbed/topology"
)

// fakeLab is one in-memory Docker engine + KinD + clusters.
type fakeLab struct {
	mu       sync.Mutex
	calls    []string
	networks map[string]network.Summary
	nodes    map[string][]dockernet.Node // by cluster
	foreign  map[string]bool             // kind clusters not on our network
	// lingering counts, per cluster, the deletes that leave its node
	// containers listed.
	lingering map[string]int
	// createHook runs inside Create (before the cluster exists).
	createHook func(name string)
	createErr  map[string]error
	missing    []string // host images missing (offline)
	kubes      map[string]*fakeKube
	// kubeFrom, when set, holds the cluster API fakes instead (several
	// host labs sharing one set, under its lock).
	kubeFrom   *fakeLab
	bakeErr    error
	unpackErr  error
	baked      map[string]bool
	bakedFiles map[string]string               // files of the last bake that had some
	patches    map[string]string               // kubeadm patch directory each cluster was created with
	images     map[string]string               // node image each cluster was created from
	applied    map[string][]topology.ChartPlan // by kubeconfig
}

type fakeKube struct {
	cs *kfake.Clientset
	dc *dynfake.FakeDynamicClient
}

func newFakeLab() *fakeLab {
	return &fakeLab{networks: map[string]network.Summary{}, nodes: map[string][]dockernet.Node{},
		foreign: map[string]bool{}, createErr: map[string]error{}, kubes: map[string]*fakeKube{},
		applied: map[string][]topology.ChartPlan{}}
}

func (f *fakeLab) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

// Clusters.
func (f *fakeLab) List() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for c := range f.nodes {
		out = append(out, c)
	}
	for c := range f.foreign {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeLab) Create(_ context.Context, c topology.ClusterPlan, _ int) error {
	f.record("create " + c.Name)
	f.mu.Lock()
	if f.images == nil {
		f.images = map[string]string{}
	}
	f.images[c.Name] = c.NodeImage
	if f.patches == nil {
		f.patches = map[string]string{}
	}
	f.patches[c.Name] = c.KubeadmPatches
	f.mu.Unlock()
	if f.createHook != nil {
		f.createHook(c.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.createErr[c.Name]; err != nil {
		return err
	}
	for i, n := range c.Nodes {
		f.nodes[c.Name] = append(f.nodes[c.Name], dockernet.Node{Name: n.Name, Cluster: c.Name, Role: n.Role, State: "running", Address: "172.31.0." + string(rune('2'+i))})
	}
	f.mu.Unlock()
	f.kubeObjects(c)
	f.mu.Lock()
	return os.WriteFile(c.Kubeconfig, []byte("fake"), 0o600)
}

// kubeObjects makes what KinD leaves in a new cluster and up reads: the
// nodes, labelled with the profile as internal/kind.Config asks, CoreDNS
// with kubeadm's two replicas, and the local-path provisioner's namespace,
// cluster role and binding and its standard StorageClass.
func (f *fakeLab) kubeObjects(c topology.ClusterPlan) {
	cs, _, _ := f.kube(c.Kubeconfig)
	ctx := context.Background()
	profile := c.Profile
	if profile == "" {
		profile = topology.ProfileStock
	}
	for _, n := range c.Nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{topology.ProfileLabel: profile}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		_ = cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	two := int32(2)
	_ = cs.AppsV1().Deployments("kube-system").Delete(ctx, "coredns", metav1.DeleteOptions{})
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Spec: appsv1.DeploymentSpec{Replicas: &two,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.12.1",
			Env: []corev1.EnvVar{{Name: "KEPT", Value: "1"}}}}}}}}
	if _, err := cs.AppsV1().Deployments("kube-system").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		panic(err)
	}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	for _, o := range []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: localPathNamespace}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: localPathRBAC}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: localPathBinding}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{defaultClassKey: "true"}},
			Provisioner: localPathProvisioner, VolumeBindingMode: &wffc},
	} {
		if err := cs.(*kfake.Clientset).Tracker().Add(o); err != nil && !apierrors.IsAlreadyExists(err) {
			panic(err)
		}
	}
}

func (f *fakeLab) Delete(name, _ string) error {
	f.record("delete " + name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lingering[name] > 0 {
		f.lingering[name]-- // a killed up's docker run is still making it
		return nil
	}
	delete(f.nodes, name)
	return nil
}

func (f *fakeLab) ExportKubeconfig(name, path string) error {
	f.record("export " + name)
	return os.WriteFile(path, []byte("fake"), 0o600)
}

// Network.
func (f *fakeLab) Ensure(_ context.Context, topo string, p topology.NetworkPlan) (dockernet.NetworkResult, error) {
	f.record("network " + p.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.networks[p.Name]; ok {
		return dockernet.NetworkResult{Name: p.Name, ID: "id-" + p.Name}, nil
	}
	f.networks[p.Name] = network.Summary{Name: p.Name, ID: "id-" + p.Name, Labels: dockernet.Labels(topo)}
	return dockernet.NetworkResult{Name: p.Name, ID: "id-" + p.Name, Created: true}, nil
}

func (f *fakeLab) ManagedNetworks(_ context.Context, topo string) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for _, n := range f.networks {
		if n.Labels[dockernet.LabelManaged] == "true" && (topo == "" || n.Labels[dockernet.LabelTopology] == topo) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeLab) RemoveNetwork(_ context.Context, s network.Summary) error {
	f.record("rmnet " + s.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.networks, s.Name)
	return nil
}

func (f *fakeLab) Nodes(_ context.Context, s network.Summary, cluster string) ([]dockernet.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dockernet.Node
	for c, ns := range f.nodes {
		if cluster != "" && c != cluster {
			continue
		}
		for _, n := range ns {
			n.Network = s.Name
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Images.
func (f *fakeLab) EnsureHost(_ context.Context, refs []string, offline bool) ([]string, error) {
	f.record("host-images")
	if offline && len(f.missing) > 0 {
		return nil, errors.New("missing " + f.missing[0])
	}
	return nil, nil
}

func (f *fakeLab) Bake(_ context.Context, base string, refs []string, files map[string]string) (string, bool, error) {
	f.record("bake " + base)
	f.mu.Lock()
	if len(files) > 0 {
		f.bakedFiles = files
	}
	f.mu.Unlock()
	if f.bakeErr != nil {
		return "", false, f.bakeErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := "testbed.local/kind-node:baked-" + base
	if len(files) > 0 {
		ref += "-with-files" // the real name hashes the files
	}
	if f.baked[ref] {
		return ref, false, nil
	}
	if f.baked == nil {
		f.baked = map[string]bool{}
	}
	f.baked[ref] = true
	return ref, true, nil
}

func (f *fakeLab) Load(_ context.Context, ref string, nodes []string) ([]string, error) {
	f.record("load " + ref)
	return nil, nil
}

func (f *fakeLab) Unpack(_ context.Context, refs, nodes []string) error {
	f.record("unpack " + strings.Join(refs, ",") + " in " + strings.Join(nodes, ","))
	return f.unpackErr
}

// CNI.
func (f *fakeLab) Prepare(context.Context, topology.CNIPlan, string) (map[string][]byte, error) {
	return map[string][]byte{"macvlan": []byte("x")}, nil
}

func (f *fakeLab) Install(_ context.Context, nodes []string, _ map[string][]byte) (map[string][]string, error) {
	return nil, nil
}

// Charts. The reference agent's chart leaves a ready DaemonSet, as its
// pods would on a real cluster.
func (f *fakeLab) Apply(ctx context.Context, kubeconfig string, c topology.ChartPlan) (helm.Release, error) {
	f.record("apply " + c.Release)
	if usesAgentImage(c) {
		cs, _, _ := f.kube(kubeconfig)
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: AgentDaemonSet, Namespace: c.Namespace},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1, NumberReady: 1}}
		_, _ = cs.AppsV1().DaemonSets(c.Namespace).Create(ctx, ds, metav1.CreateOptions{})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, prev := range f.applied[kubeconfig] {
		if prev.Release == c.Release && cmp.Equal(prev.Values, c.Values) {
			return helm.Release{Name: c.Release, Namespace: c.Namespace, Version: c.Version, Revision: 1}, nil
		}
	}
	f.applied[kubeconfig] = append(f.applied[kubeconfig], c)
	return helm.Release{Name: c.Release, Namespace: c.Namespace, Version: c.Version, Revision: 1, Changed: true}, nil
}

func (f *fakeLab) kube(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error) {
	if f.kubeFrom != nil {
		return f.kubeFrom.kube(kubeconfig)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.kubes[kubeconfig]
	if !ok {
		k = &fakeKube{
			cs: kfake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}),
			dc: dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				NADResource: "NetworkAttachmentDefinitionList", PeerResource: "PeerList", KnownClusterResource: "KnownClusterList",
			}),
		}
		f.kubes[kubeconfig] = k
	}
	return k.cs, k.dc, nil
}

// kubeconfigOf is the kubeconfig whose fake clients are cs.
func (f *fakeLab) kubeconfigOf(cs kubernetes.Interface) string {
	if f.kubeFrom != nil {
		return f.kubeFrom.kubeconfigOf(cs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for kc, k := range f.kubes {
		if kubernetes.Interface(k.cs) == cs {
			return kc
		}
	}
	return ""
}

type chartsFake struct{ *fakeLab }

func (c chartsFake) List(_ context.Context, kubeconfig string) ([]helm.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []helm.Release
	for _, a := range c.applied[kubeconfig] {
		out = append(out, helm.Release{Name: a.Release, Namespace: a.Namespace, Version: a.Version})
	}
	return out, nil
}

func testPlan(t *testing.T, n int) *topology.Plan {
	t.Helper()
	dir := t.TempDir()
	p := &topology.Plan{
		Name: "lab", StateDir: filepath.Join(dir, "lab"),
		Network:     topology.NetworkPlan{Name: "testbed-lab", Subnet: "172.31.0.0/24", Gateway: "172.31.0.1"},
		Macvlan:     topology.MacvlanPlan{Master: "eth0", Mode: "bridge", Subnet: "10.101.0.0/16", PodInterface: "eth1", NADName: "macvlan-conf", NADNamespaces: []string{"testbed-agent", "fluidos"}},
		Multus:      topology.MultusPlan{Version: "v4.2.2", Image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"},
		ExtraCharts: []topology.ChartPlan{{Name: "reference-agent", Release: "reference-agent", Namespace: "testbed-agent", Chart: "charts/reference-agent"}},
		Parallelism: 2, Retries: 1,
	}
	if err := os.MkdirAll(filepath.Join(p.StateDir, "kubeconfig"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		name := "c" + string(rune('0'+i))
		base := "10.101." + string(rune('0'+i-1))
		p.Clusters = append(p.Clusters, topology.ClusterPlan{
			Name: name, Index: i, NodeImage: "node:v1",
			Nodes:      []topology.NodePlan{{Name: name + "-control-plane", Role: "control-plane"}},
			Kubeconfig: filepath.Join(p.StateDir, "kubeconfig", name), LogDir: filepath.Join(p.StateDir, "logs", name),
			Macvlan: topology.ClusterMacvlan{Subnet: base + ".0/24", RangeStart: base + ".101", RangeEnd: base + ".101"},
			Charts:  []topology.ChartPlan{p.ExtraCharts[0]},
		})
	}
	return p
}

func newTestProvisioner(t *testing.T, f *fakeLab, extra ...Option) *Provisioner {
	t.Helper()
	opts := []Option{
		WithClusters(f), WithNetwork(f), WithImages(f), WithCNI(f), WithCharts(chartsFake{f}), WithKube(f.kube),
		WithMultus(helm.MultusChart, func(context.Context, kubernetes.Interface) error { return nil }),
		WithAgentImage(func(context.Context) (string, error) { return "testbed.local/reference-agent:0123456789ab", nil }),
	}
	p, err := New(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func phaseNames(r *Report) []string {
	var out []string
	for _, ph := range r.Phases {
		out = append(out, ph.Name)
	}
	return out
}

func TestUpFreshThenNoop(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 3)
	p := newTestProvisioner(t, f)
	rep, err := p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{StepPull, StepBake, StepNetwork, StepCreate, StepImages, StepCNI, StepMultus, StepReady, StepNAD, StepCharts}
	if d := cmp.Diff(want, phaseNames(rep)); d != "" {
		t.Errorf("phases (-want +got):\n%s", d)
	}
	if !rep.Changed || len(rep.Creates) != 3 || rep.Waves != 2 {
		t.Errorf("report: changed=%v creates=%d waves=%d, want true 3 2", rep.Changed, len(rep.Creates), rep.Waves)
	}
	// Every chart got the testbed block with the node address and agent image.
	for _, c := range plan.Clusters {
		got := f.applied[c.Kubeconfig]
		if len(got) != 2 || got[0].Release != helm.MultusRelease || got[1].Release != "reference-agent" {
			t.Fatalf("%s: applied %+v", c.Name, got)
		}
		tb := got[1].Values["testbed"].(map[string]any)
		if tb["cluster"] != c.Name || tb["agentImage"] != "testbed.local/reference-agent:0123456789ab" || tb["nodeAddress"] != "172.31.0.2" {
			t.Errorf("%s: testbed block %v", c.Name, tb)
		}
		// NAD only in testbed-agent, never in fluidos.
		_, dc, _ := f.kube(c.Kubeconfig)
		if _, err := dc.Resource(NADResource).Namespace("testbed-agent").Get(context.Background(), "macvlan-conf", metav1.GetOptions{}); err != nil {
			t.Errorf("%s: NAD in testbed-agent: %v", c.Name, err)
		}
		if _, err := dc.Resource(NADResource).Namespace("fluidos").Get(context.Background(), "macvlan-conf", metav1.GetOptions{}); err == nil {
			t.Errorf("%s: NAD created in fluidos (its chart hook owns it)", c.Name)
		}
	}
	f.calls = nil
	rep, err = p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed || len(rep.Creates) != 0 {
		t.Errorf("second up changed=%v creates=%v, want a no-op", rep.Changed, rep.Creates)
	}
	for _, c := range f.calls {
		if len(c) > 6 && (c[:6] == "create" || c[:6] == "delete") {
			t.Errorf("second up called %q", c)
		}
	}
}

// The images step has every lab image unpacked in every node of a cluster
// (the baked node image holds them as content only), before Multus is
// installed; a failed unpack stops up, naming the cluster and the step.
func TestUpUnpacksLabImages(t *testing.T) {
	const images = "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2,testbed.local/reference-agent:0123456789ab"
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{name: "every lab image in every node"},
		{name: "failure stops up", err: errors.New("node c1-control-plane: unpacking x: ctr exited 1"),
			wantErr: `cluster "c1": images: node c1-control-plane: unpacking x: ctr exited 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			f.unpackErr = tt.err
			plan := testPlan(t, 1)
			_, err := newTestProvisioner(t, f).Up(context.Background(), plan, UpOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Up error %v, want %q", err, tt.wantErr)
				}
				if len(f.applied[plan.Clusters[0].Kubeconfig]) != 0 {
					t.Errorf("charts applied after the failed unpack: %v", f.applied)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := "unpack " + images + " in c1-control-plane"
			unpacked, multus := slices.Index(f.calls, want), slices.Index(f.calls, "apply "+helm.MultusRelease)
			if unpacked < 0 || multus < 0 || unpacked > multus {
				t.Errorf("calls %v, want %q before Multus is applied", f.calls, want)
			}
		})
	}
}

// The lean profile scales CoreDNS to one replica after create and puts the
// standard StorageClass on the in-tree host-path provisioner, removing the
// local-path provisioner; stock keeps kubeadm's two replicas and KinD's
// local-path; a second lean up is a no-op.
func TestUpProfileCoreDNS(t *testing.T) {
	for _, profile := range []string{topology.ProfileStock, topology.ProfileLean} {
		t.Run(profile, func(t *testing.T) {
			f := newFakeLab()
			plan := testPlan(t, 2)
			for i := range plan.Clusters {
				plan.Clusters[i].Profile = profile
			}
			p := newTestProvisioner(t, f)
			if _, err := p.Up(context.Background(), plan, UpOptions{}); err != nil {
				t.Fatal(err)
			}
			want := int32(2)
			if profile == topology.ProfileLean {
				want = 1
			}
			for _, c := range plan.Clusters {
				cs, _, _ := f.kube(c.Kubeconfig)
				d, err := cs.AppsV1().Deployments("kube-system").Get(context.Background(), "coredns", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if *d.Spec.Replicas != want {
					t.Errorf("%s: CoreDNS replicas %d, want %d", c.Name, *d.Spec.Replicas, want)
				}
				// Lean adds GOGC=25 to the coredns container and keeps the
				// rest of it; stock leaves it alone.
				wantEnv := []corev1.EnvVar{{Name: "KEPT", Value: "1"}}
				if profile == topology.ProfileLean {
					wantEnv = append(wantEnv, corev1.EnvVar{Name: "GOGC", Value: "25"})
				}
				ctrs := d.Spec.Template.Spec.Containers
				if len(ctrs) != 1 || ctrs[0].Image != "registry.k8s.io/coredns/coredns:v1.12.1" || !cmp.Equal(ctrs[0].Env, wantEnv, cmpopts.SortSlices(func(a, b corev1.EnvVar) bool { return a.Name < b.Name })) {
					t.Errorf("%s: CoreDNS containers %+v, want env %v and the image kept", c.Name, ctrs, wantEnv)
				}
				sc, err := cs.StorageV1().StorageClasses().Get(context.Background(), "standard", metav1.GetOptions{})
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				wantProv, wantLocalPath := localPathProvisioner, true
				if profile == topology.ProfileLean {
					wantProv, wantLocalPath = hostPathProvisioner, false
				}
				if sc.Provisioner != wantProv || sc.Annotations[defaultClassKey] != "true" {
					t.Errorf("%s: StorageClass standard %s %v, want the default class on %s", c.Name, sc.Provisioner, sc.Annotations, wantProv)
				}
				_, nsErr := cs.CoreV1().Namespaces().Get(context.Background(), localPathNamespace, metav1.GetOptions{})
				_, crErr := cs.RbacV1().ClusterRoles().Get(context.Background(), localPathRBAC, metav1.GetOptions{})
				_, crbErr := cs.RbacV1().ClusterRoleBindings().Get(context.Background(), localPathBinding, metav1.GetOptions{})
				for what, err := range map[string]error{"namespace": nsErr, "cluster role": crErr, "cluster role binding": crbErr} {
					if (err == nil) != wantLocalPath || (err != nil && !apierrors.IsNotFound(err)) {
						t.Errorf("%s: local-path %s: %v, want it kept: %v", c.Name, what, err, wantLocalPath)
					}
				}
			}
			rep, err := p.Up(context.Background(), plan, UpOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Changed {
				t.Errorf("second %s up changed something", profile)
			}
		})
	}
}

func TestUpRepairsAndRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *fakeLab, plan *topology.Plan)
		opts    UpOptions
		want    []string // create/delete calls, sorted
		wantErr string
	}{
		{
			name: "stopped node is recreated",
			prepare: func(f *fakeLab, plan *topology.Plan) {
				f.nodes["c1"] = []dockernet.Node{{Name: "c1-control-plane", Cluster: "c1", Role: "control-plane", State: "exited"}}
			},
			want: []string{"create c1", "delete c1"},
		},
		{
			name: "missing kubeconfig is exported, cluster kept",
			prepare: func(f *fakeLab, plan *topology.Plan) {
				f.nodes["c1"] = []dockernet.Node{{Name: "c1-control-plane", Cluster: "c1", Role: "control-plane", State: "running"}}
				f.kubeObjects(plan.Clusters[0])
			},
			want: []string{"export c1"},
		},
		{
			name: "cluster made with another profile is recreated",
			prepare: func(f *fakeLab, plan *topology.Plan) {
				f.nodes["c1"] = []dockernet.Node{{Name: "c1-control-plane", Cluster: "c1", Role: "control-plane", State: "running"}}
				f.kubeObjects(plan.Clusters[0]) // stock
				_ = os.WriteFile(plan.Clusters[0].Kubeconfig, []byte("x"), 0o600)
				plan.Clusters[0].Profile = topology.ProfileLean
			},
			want: []string{"create c1", "delete c1"},
		},
		{
			name: "recreate rebuilds a healthy cluster",
			prepare: func(f *fakeLab, plan *topology.Plan) {
				f.nodes["c1"] = []dockernet.Node{{Name: "c1-control-plane", Cluster: "c1", Role: "control-plane", State: "running"}}
				_ = os.WriteFile(plan.Clusters[0].Kubeconfig, []byte("x"), 0o600)
			},
			opts: UpOptions{Recreate: true},
			want: []string{"create c1", "delete c1"},
		},
		{
			name:    "foreign kind cluster of the same name is refused",
			prepare: func(f *fakeLab, plan *topology.Plan) { f.foreign["c1"] = true },
			wantErr: "not this lab's",
		},
		{
			name:    "create failure names the cluster",
			prepare: func(f *fakeLab, plan *topology.Plan) { f.createErr["c1"] = errors.New("boom") },
			want:    []string{"create c1"},
			wantErr: `cluster "c1": create: boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			plan := testPlan(t, 1)
			f.networks[plan.Network.Name] = network.Summary{Name: plan.Network.Name, ID: "id", Labels: dockernet.Labels(plan.Name)}
			tt.prepare(f, plan)
			_, err := newTestProvisioner(t, f).Up(context.Background(), plan, tt.opts)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var got []string
			for _, c := range f.calls {
				if strings.Contains(c, "create ") || strings.Contains(c, "delete ") || strings.Contains(c, "export ") {
					got = append(got, c)
				}
			}
			sort.Strings(got)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
		})
	}
}

// Ctrl-C while the first of three creates runs (parallelism 1): the create
// in flight finishes, nothing else is scheduled, and the error says how to
// converge. A second Up then creates only what is missing.
func TestUpCancelDuringCreates(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 3)
	plan.Parallelism = 1
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 3)
	release := make(chan struct{})
	f.createHook = func(name string) {
		started <- name
		<-release
	}
	p := newTestProvisioner(t, f)
	done := make(chan error, 1)
	go func() {
		_, err := p.Up(ctx, plan, UpOptions{})
		done <- err
	}()
	first := <-started
	cancel()
	close(release)
	err := <-done
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrInterrupted wrapping context.Canceled", err)
	}
	if got, _ := f.List(); !slices.Equal(got, []string{first}) {
		t.Fatalf("clusters after cancel = %v, want only the in-flight %s", got, first)
	}
	// Converge.
	f.createHook = nil
	f.calls = nil
	rep, err := p.Up(context.Background(), plan, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Creates) != 2 {
		t.Errorf("converging up created %v, want the 2 missing clusters", rep.Creates)
	}
	if _, ok := rep.Creates[first]; ok {
		t.Errorf("converging up recreated the complete cluster %s", first)
	}
}

func TestUpOfflineMissingStopsBeforeWork(t *testing.T) {
	f := newFakeLab()
	f.missing = []string{"ghcr.io/x:v1"}
	_, err := newTestProvisioner(t, f).Up(context.Background(), testPlan(t, 2), UpOptions{Offline: true})
	if err == nil || !strings.Contains(err.Error(), "missing ghcr.io/x:v1") {
		t.Fatalf("err = %v", err)
	}
	if d := cmp.Diff([]string{"host-images"}, f.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestDownIsLabelScoped(t *testing.T) {
	f := newFakeLab()
	root := t.TempDir()
	f.networks["testbed-a"] = network.Summary{Name: "testbed-a", ID: "a", Labels: dockernet.Labels("a")}
	f.networks["testbed-b"] = network.Summary{Name: "testbed-b", ID: "b", Labels: dockernet.Labels("b")}
	f.networks["other"] = network.Summary{Name: "other", ID: "o"}
	f.nodes["a1"] = []dockernet.Node{{Name: "a1-control-plane", Cluster: "a1", State: "running"}}
	f.foreign["mine"] = true // a user's own kind cluster: not on any testbed network
	kc := filepath.Join(root, "a", "kubeconfig", "a1")
	_ = os.MkdirAll(filepath.Dir(kc), 0o700)
	_ = os.WriteFile(kc, []byte("x"), 0o600)
	p := newTestProvisioner(t, f)
	rep, err := p.Down(context.Background(), DownOptions{Topology: "a", StateRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&DownReport{Clusters: []string{"a1"}, Networks: []string{"testbed-a"}}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if _, err := os.Stat(kc); !os.IsNotExist(err) {
		t.Errorf("kubeconfig not removed: %v", err)
	}
	if _, ok := f.networks["other"]; !ok {
		t.Error("unlabelled network removed")
	}
	// --all removes the remaining testbed network and never the foreign cluster.
	rep, err = p.Down(context.Background(), DownOptions{All: true, StateRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&DownReport{Networks: []string{"testbed-b"}}, rep); d != "" {
		t.Errorf("--all report (-want +got):\n%s", d)
	}
	for _, c := range f.calls {
		if c == "delete mine" || c == "rmnet other" {
			t.Errorf("down touched %q", c)
		}
	}
}

func TestStatus(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 2)
	p := newTestProvisioner(t, f)
	if _, err := p.Up(context.Background(), plan, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := p.Status(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Clusters) != 2 || st.Network == nil {
		t.Fatalf("status %+v", st)
	}
	c := st.Clusters[0]
	if !c.APIReachable || len(c.Nodes) != 1 || len(c.Releases) != 2 || len(c.Discovery) != 1 || c.Discovery[0].Protocol != "reference-agent" {
		t.Errorf("cluster status %+v", c)
	}
	if c.Healthy() != true {
		t.Error("healthy cluster reported unhealthy")
	}
	b, err := json.Marshal(st)
	if err != nil || !strings.Contains(string(b), `"apiReachable":true`) {
		t.Errorf("json %s %v", b, err)
	}
}

func TestWaves(t *testing.T) {
	for _, tt := range []struct{ n, par, want int }{{0, 2, 0}, {1, 2, 1}, {3, 2, 2}, {24, 2, 12}, {24, 8, 3}} {
		if got := waves(tt.n, tt.par); got != tt.want {
			t.Errorf("waves(%d,%d)=%d want %d", tt.n, tt.par, got, tt.want)
		}
	}
}

func TestDownCreatesKubeconfigDirForKindLock(t *testing.T) {
	f := newFakeLab()
	root := filepath.Join(t.TempDir(), "gone")
	f.networks["testbed-a"] = network.Summary{Name: "testbed-a", ID: "a", Labels: dockernet.Labels("a")}
	f.nodes["a1"] = []dockernet.Node{{Name: "a1-control-plane", Cluster: "a1", State: "running"}}
	if _, err := newTestProvisioner(t, f).Down(context.Background(), DownOptions{Topology: "a", StateRoot: root}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(root, "a", "kubeconfig")); err != nil || !st.IsDir() {
		t.Errorf("kubeconfig dir for the per-cluster file: %v", err)
	}
}

func TestStatusCountsFluidosPeers(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 1)
	fl := topology.ChartPlan{Name: "fluidos", Release: "node", Namespace: "fluidos"}
	plan.Fluidos = &fl
	plan.ExtraCharts = nil
	plan.Clusters[0].Charts = []topology.ChartPlan{fl}
	f.networks[plan.Network.Name] = network.Summary{Name: plan.Network.Name, ID: "id", Labels: dockernet.Labels(plan.Name)}
	c := plan.Clusters[0]
	f.nodes[c.Name] = []dockernet.Node{{Name: c.Name + "-control-plane", Cluster: c.Name, Role: "control-plane", State: "running"}}
	_ = os.WriteFile(c.Kubeconfig, []byte("x"), 0o600)
	_, dc, _ := f.kube(c.Kubeconfig)
	for _, name := range []string{"knowncluster-a", "knowncluster-b"} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "network.fluidos.eu/v1alpha1", "kind": "KnownCluster",
			"metadata": map[string]any{"name": name, "namespace": "fluidos"},
		}}
		if _, err := dc.Resource(KnownClusterResource).Namespace("fluidos").Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := newTestProvisioner(t, f).Status(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	d := st.Clusters[0].Discovery
	if len(d) != 1 || d[0].Protocol != "network-manager" || d[0].Namespace != "fluidos" || !d[0].Missing || d[0].Peers != 2 {
		t.Errorf("discovery %+v", d)
	}
	// The network-manager DaemonSet is absent: reported, not fatal.
	if !strings.Contains(strings.Join(st.Clusters[0].Errors, ";"), `network-manager: planned in fluidos, but no DaemonSet "node-network-manager" in any namespace`) {
		t.Errorf("errors %v", st.Clusters[0].Errors)
	}
}

// TestUpInstallsFluidosThenWaitsForNetworkManager: the FLUIDOS releases go
// in order with the testbed block, and up waits for the network-manager
// DaemonSet on every cluster; a cluster whose DaemonSet never becomes ready
// fails the phase, named.
func TestUpInstallsFluidosThenWaitsForNetworkManager(t *testing.T) {
	tests := []struct {
		name    string
		waitErr map[string]error // by cluster kubeconfig base name
		wantErr string
	}{
		{name: "ready everywhere"},
		{name: "one cluster never ready", waitErr: map[string]error{"c2": errors.New("watch closed")}, wantErr: "network-manager DaemonSet not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			plan := testPlan(t, 2)
			plan.Fluidos = &topology.ChartPlan{Name: "fluidos", Release: "node", Namespace: "fluidos", Chart: "node", Repo: "https://fluidos-project.github.io/node/", Version: "v0.1.2"}
			for i := range plan.Clusters {
				plan.Clusters[i].Charts = append([]topology.ChartPlan{*plan.Fluidos}, plan.Clusters[i].Charts...)
			}
			releases := func(_ *topology.Plan, c topology.ClusterPlan, addr string) ([]topology.ChartPlan, error) {
				return []topology.ChartPlan{
					{Name: "cert-manager", Release: "cert-manager", Namespace: "cert-manager", Chart: "cert-manager", Version: "v1.16.3"},
					{Name: "fluidos", Release: "node", Namespace: "fluidos", Chart: "node", Version: "v0.1.2",
						Values: map[string]any{"common": map[string]any{"configMaps": map[string]any{"nodeIdentity": map[string]any{"ip": addr}}}}},
				}, nil
			}
			var mu sync.Mutex
			var waited []string
			wait := func(_ context.Context, cs kubernetes.Interface) error {
				kubeconfig := f.kubeconfigOf(cs)
				mu.Lock()
				defer mu.Unlock()
				// The wait comes after both releases of that cluster.
				f.mu.Lock()
				got := f.applied[kubeconfig]
				f.mu.Unlock()
				if len(got) < 3 || got[2].Release != "node" {
					t.Errorf("waited on %s before the node chart was applied: %+v", kubeconfig, got)
				}
				waited = append(waited, filepath.Base(kubeconfig))
				return tt.waitErr[filepath.Base(kubeconfig)]
			}
			p := newTestProvisioner(t, f, WithFluidosReleases(releases), WithFluidosWait(wait))
			_, err := p.Up(context.Background(), plan, UpOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "c2") {
					t.Fatalf("Up error = %v, want %q naming c2", err, tt.wantErr)
				}
				var se *StepError
				if !errors.As(err, &se) || se.Cluster != "c2" || se.Step != StepFluidos {
					t.Fatalf("Up error %v: StepError %+v, want cluster c2 step %s", err, se, StepFluidos)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(waited)
			if d := cmp.Diff([]string{"c1", "c2"}, waited); d != "" {
				t.Errorf("waited on (-want +got):\n%s", d)
			}
			for _, c := range plan.Clusters {
				var order []string
				for _, a := range f.applied[c.Kubeconfig] {
					order = append(order, a.Release)
				}
				if d := cmp.Diff([]string{helm.MultusRelease, "cert-manager", "node", "reference-agent"}, order); d != "" {
					t.Errorf("%s: release order (-want +got):\n%s", c.Name, d)
				}
			}
		})
	}
}

// New clusters start from the baked node image; a failed bake falls back to
// the plain image with a warning; --no-bake never bakes.
func TestUpBakesNodeImageOnce(t *testing.T) {
	tests := []struct {
		name      string
		opts      UpOptions
		bakeErr   error
		wantImage string
		wantWarn  bool
	}{
		{name: "baked", wantImage: "testbed.local/kind-node:baked-node:v1"},
		{name: "bake fails: fallback", bakeErr: errors.New("no space left on device"), wantImage: "node:v1", wantWarn: true},
		{name: "no bake", opts: UpOptions{NoBake: true}, wantImage: "node:v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			f.bakeErr = tt.bakeErr
			plan := testPlan(t, 3)
			rep, err := newTestProvisioner(t, f).Up(context.Background(), plan, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range plan.Clusters {
				if got := f.images[c.Name]; got != tt.wantImage {
					t.Errorf("%s created from %q, want %q", c.Name, got, tt.wantImage)
				}
				if c.NodeImage != "node:v1" {
					t.Errorf("Up changed the caller's plan: %s", c.NodeImage)
				}
			}
			if (rep.BakeWarning != "") != tt.wantWarn {
				t.Errorf("bake warning %q, want one: %v", rep.BakeWarning, tt.wantWarn)
			}
			bakes := 0
			for _, c := range f.calls {
				if strings.HasPrefix(c, "bake ") {
					bakes++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tt.opts.NoBake]; bakes != want {
				t.Errorf("%d bake calls, want %d (once per distinct node image)", bakes, want)
			}
		})
	}
}

// A lean cluster starts from a node image that carries the lean profile's
// files, and its KinD configuration names their kubeadm patch directory; a
// stock cluster of the same lab starts from an image without them (the
// drop-ins act on every node of an image); --no-bake still bakes the files
// (no images) for lean clusters; a failed bake leaves lean without them.
func TestUpBakesLeanPatches(t *testing.T) {
	const (
		plain     = "testbed.local/kind-node:baked-node:v1"
		withFiles = "testbed.local/kind-node:baked-node:v1-with-files"
	)
	tests := []struct {
		name        string
		profiles    []string
		opts        UpOptions
		bakeErr     error
		wantFiles   bool
		wantBakes   int
		wantPatches []string
		wantImages  []string
	}{
		{name: "stock: no files", profiles: []string{"", topology.ProfileStock}, wantBakes: 1, wantPatches: []string{"", ""}, wantImages: []string{plain, plain}},
		{name: "lean", profiles: []string{topology.ProfileLean, topology.ProfileLean}, wantFiles: true, wantBakes: 1,
			wantPatches: []string{kind.LeanPatchDir, kind.LeanPatchDir}, wantImages: []string{withFiles, withFiles}},
		{name: "mixed: an image per profile", profiles: []string{topology.ProfileLean, topology.ProfileStock, topology.ProfileLean}, wantFiles: true, wantBakes: 2,
			wantPatches: []string{kind.LeanPatchDir, "", kind.LeanPatchDir}, wantImages: []string{withFiles, plain, withFiles}},
		{name: "lean, no bake: files only", profiles: []string{topology.ProfileLean, topology.ProfileLean}, opts: UpOptions{NoBake: true}, wantFiles: true, wantBakes: 1,
			wantPatches: []string{kind.LeanPatchDir, kind.LeanPatchDir}, wantImages: []string{withFiles, withFiles}},
		{name: "mixed, no bake: stock keeps its image", profiles: []string{topology.ProfileStock, topology.ProfileLean}, opts: UpOptions{NoBake: true}, wantFiles: true, wantBakes: 1,
			wantPatches: []string{"", kind.LeanPatchDir}, wantImages: []string{"node:v1", withFiles}},
		{name: "stock, no bake", profiles: []string{"", ""}, opts: UpOptions{NoBake: true}, wantPatches: []string{"", ""}, wantImages: []string{"node:v1", "node:v1"}},
		{name: "lean, bake fails", profiles: []string{topology.ProfileLean, topology.ProfileLean}, bakeErr: errors.New("disk full"), wantFiles: true, wantBakes: 1,
			wantPatches: []string{"", ""}, wantImages: []string{"node:v1", "node:v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLab()
			f.bakeErr = tt.bakeErr
			plan := testPlan(t, len(tt.profiles))
			for i, p := range tt.profiles {
				plan.Clusters[i].Profile = p
			}
			rep, err := newTestProvisioner(t, f).Up(context.Background(), plan, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			bakes, filesBaked := 0, false
			for _, c := range f.calls {
				bakes += strings.Count(c, "bake ")
			}
			if bakes != tt.wantBakes {
				t.Errorf("%d bakes, want %d (once per node image and profile)", bakes, tt.wantBakes)
			}
			for _, ref := range rep.NodeImages {
				filesBaked = filesBaked || ref == withFiles
			}
			if tt.bakeErr == nil && filesBaked != tt.wantFiles {
				t.Errorf("node images %v, want one with the lean files: %v", rep.NodeImages, tt.wantFiles)
			}
			if tt.wantFiles {
				if d := cmp.Diff(kind.LeanFiles(), f.bakedFiles); d != "" {
					t.Errorf("baked files (-want +got):\n%s", d)
				}
			}
			for i, c := range plan.Clusters {
				if f.patches[c.Name] != tt.wantPatches[i] || f.images[c.Name] != tt.wantImages[i] {
					t.Errorf("%s created from %s with patches %q, want %s with %q", c.Name, f.images[c.Name], f.patches[c.Name], tt.wantImages[i], tt.wantPatches[i])
				}
				if c.KubeadmPatches != "" {
					t.Errorf("Up changed the caller's plan: %+v", c)
				}
			}
		})
	}
}

// TestUpDeletesANeverStartedNodeUntilItIsGone leaves a cluster's node
// container created but never started (a SIGKILLed up), and makes it
// outlive the first two deletes: up deletes until it is gone, then creates
// the cluster once.
func TestUpDeletesANeverStartedNodeUntilItIsGone(t *testing.T) {
	f := newFakeLab()
	plan := testPlan(t, 1)
	name := plan.Clusters[0].Name
	p := newTestProvisioner(t, f)
	p.deleteRetry = 0
	if _, err := p.Up(context.Background(), plan, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.nodes[name][0].State = "created"
	f.lingering = map[string]int{name: 2}
	f.calls = nil
	f.mu.Unlock()
	if _, err := p.Up(context.Background(), plan, UpOptions{}); err != nil {
		t.Fatalf("up over a never-started node: %v", err)
	}
	var deletes, creates int
	for _, c := range f.calls {
		switch {
		case c == "delete "+name:
			deletes++
		case strings.HasPrefix(c, "create "+name):
			creates++
		}
	}
	if deletes != 3 || creates != 1 {
		t.Errorf("%d deletes and %d creates, want 3 and 1: %v", deletes, creates, f.calls)
	}
}

// leanStorage from each state a cluster can be in: KinD's local-path, a
// run already done (or cut short between its steps), a user's own
// standard class, no class at all, a namespace already terminating.
func TestLeanStorage(t *testing.T) {
	del := metav1.Now()
	class := func(prov string) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{defaultClassKey: "true"}}, Provisioner: prov}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: localPathNamespace}}
	rbac := []runtime.Object{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: localPathRBAC}}, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: localPathBinding}}}
	tests := []struct {
		name     string
		objs     []runtime.Object
		wantProv string // "" for no class
		wantNS   bool
		wantNote bool
	}{
		{"kind's local-path", append([]runtime.Object{class(localPathProvisioner), ns}, rbac...), hostPathProvisioner, false, true},
		{"done before", []runtime.Object{class(hostPathProvisioner)}, hostPathProvisioner, false, false},
		{"class replaced, provisioner left", append([]runtime.Object{class(hostPathProvisioner), ns}, rbac...), hostPathProvisioner, false, true},
		{"a user's class", []runtime.Object{class("example.com/csi")}, "example.com/csi", false, false},
		{"no class", nil, hostPathProvisioner, false, true},
		{"namespace terminating", []runtime.Object{class(hostPathProvisioner),
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: localPathNamespace, DeletionTimestamp: &del, Finalizers: []string{"kubernetes"}}}}, hostPathProvisioner, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := kfake.NewSimpleClientset(tt.objs...)
			note, err := leanStorage(context.Background(), cs)
			if err != nil {
				t.Fatal(err)
			}
			if (note != "") != tt.wantNote {
				t.Errorf("note %q, want one: %v", note, tt.wantNote)
			}
			sc, err := cs.StorageV1().StorageClasses().Get(context.Background(), "standard", metav1.GetOptions{})
			if err != nil || sc.Provisioner != tt.wantProv || sc.Annotations[defaultClassKey] != "true" {
				t.Errorf("StorageClass standard %+v (%v), want the default class on %s", sc, err, tt.wantProv)
			}
			if _, err := cs.CoreV1().Namespaces().Get(context.Background(), localPathNamespace, metav1.GetOptions{}); (err == nil) != tt.wantNS {
				t.Errorf("namespace %s: %v, want it there: %v", localPathNamespace, err, tt.wantNS)
			}
			if _, err := cs.RbacV1().ClusterRoles().Get(context.Background(), localPathRBAC, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("cluster role %s: %v, want it gone", localPathRBAC, err)
			}
			if note, err := leanStorage(context.Background(), cs); err != nil || note != "" {
				t.Errorf("second run: %q, %v; want nothing to do", note, err)
			}
		})
	}
}

// The CoreDNS patch of the lean profile sets what is missing and nothing
// else: a GOGC already in the container, of any form, is the user's.
func TestCoreDNSPatch(t *testing.T) {
	dep := func(replicas int32, env ...corev1.EnvVar) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "coredns", Env: env}}}}}}
	}
	fromField := corev1.EnvVar{Name: "GOGC", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
	tests := []struct {
		name      string
		d         *appsv1.Deployment
		want      string
		wantNotes []string
	}{
		{name: "kubeadm's", d: dep(2), want: `{"spec":{"replicas":1,"template":{"spec":{"containers":[{"env":[{"name":"GOGC","value":"25"}],"name":"coredns"}]}}}}`,
			wantNotes: []string{"CoreDNS scaled to 1", "CoreDNS GOGC=25"}},
		{name: "already lean", d: dep(1, corev1.EnvVar{Name: "GOGC", Value: "25"})},
		{name: "lean before GOGC joined", d: dep(1), want: `{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"GOGC","value":"25"}],"name":"coredns"}]}}}}`,
			wantNotes: []string{"CoreDNS GOGC=25"}},
		{name: "a user's GOGC from a field is kept", d: dep(1, fromField)},
		{name: "a user's GOGC value is kept", d: dep(2, corev1.EnvVar{Name: "GOGC", Value: "100"}), want: `{"spec":{"replicas":1}}`,
			wantNotes: []string{"CoreDNS scaled to 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := coreDNSPatch(tt.d)
			if string(got) != tt.want || !slices.Equal(notes, tt.wantNotes) {
				t.Errorf("patch %s %q, want %s %q", got, notes, tt.want, tt.wantNotes)
			}
		})
	}
}
