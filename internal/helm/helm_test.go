package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/fluidos-lab/testbed/topology"
)

// fakeGetter satisfies the RESTClientGetter Helm needs after installing CRDs.
type fakeGetter struct{}

func (fakeGetter) ToRESTConfig() (*rest.Config, error) { return &rest.Config{Host: "fake"}, nil }
func (fakeGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return memory.NewMemCacheClient(&fakediscovery.FakeDiscovery{Fake: &k8stesting.Fake{}}), nil
}
func (fakeGetter) ToRESTMapper() (meta.RESTMapper, error) { return meta.NewDefaultRESTMapper(nil), nil }
func (fakeGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(), nil)
}

// nsDriver gives each namespace-scoped Configuration of one fake cluster a
// view of the same in-memory release store, like Secrets in one API server.
type nsDriver struct {
	mu  *sync.Mutex
	mem *driver.Memory
	ns  string
}

func (d nsDriver) do(f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mem.SetNamespace(d.ns)
	return f()
}
func (d nsDriver) Name() string { return "memory" }
func (d nsDriver) Create(k string, r *release.Release) error {
	return d.do(func() error { return d.mem.Create(k, r) })
}
func (d nsDriver) Update(k string, r *release.Release) error {
	return d.do(func() error { return d.mem.Update(k, r) })
}
func (d nsDriver) Delete(k string) (r *release.Release, err error) {
	err = d.do(func() error { r, err = d.mem.Delete(k); return err })
	return r, err
}
func (d nsDriver) Get(k string) (r *release.Release, err error) {
	err = d.do(func() error { r, err = d.mem.Get(k); return err })
	return r, err
}
func (d nsDriver) List(f func(*release.Release) bool) (rs []*release.Release, err error) {
	err = d.do(func() error { rs, err = d.mem.List(f); return err })
	return rs, err
}
func (d nsDriver) Query(l map[string]string) (rs []*release.Release, err error) {
	err = d.do(func() error { rs, err = d.mem.Query(l); return err })
	return rs, err
}

// fakeClusters builds Configurations backed by one in-memory store per
// kubeconfig and a kube client that accepts everything.
type fakeClusters struct {
	mu     sync.Mutex
	stores map[string]*driver.Memory
	inits  map[string]int
	// updateErr is returned by every resource update (upgrades).
	updateErr error
}

func newFakeClusters() *fakeClusters {
	return &fakeClusters{stores: map[string]*driver.Memory{}, inits: map[string]int{}}
}

func (f *fakeClusters) factory(failCreate error) ConfigFactory {
	return func(kubeconfig, namespace, _ string) (*action.Configuration, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		mem, ok := f.stores[kubeconfig]
		if !ok {
			mem = driver.NewMemory()
			f.stores[kubeconfig] = mem
		}
		f.inits[kubeconfig+"|"+namespace]++
		kc := &kubefake.FailingKubeClient{PrintingKubeClient: kubefake.PrintingKubeClient{Out: io.Discard}, CreateError: failCreate, UpdateError: f.updateErr}
		// nsDriver shares f.mu; the factory itself never touches storage.
		return &action.Configuration{
			Releases:         storage.Init(nsDriver{mu: &f.mu, mem: mem, ns: namespace}),
			KubeClient:       kc,
			Capabilities:     chartutil.DefaultCapabilities,
			RESTClientGetter: fakeGetter{},
			Log:              func(string, ...any) {},
		}, nil
	}
}

func writeChart(t *testing.T, dir, version, tmpl string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":        fmt.Sprintf("apiVersion: v2\nname: demo\nversion: %s\nappVersion: \"1.0\"\n", version),
		"values.yaml":       "greeting: hello\nport: 80\n",
		"templates/cm.yaml": tmpl,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const cmTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
data:
  greeting: {{ .Values.greeting | quote }}
  port: {{ .Values.port | quote }}
`

func TestApplyLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeChart(t, dir, "0.1.0", cmTemplate)
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)), WithCacheDir(t.TempDir()))
	kc := "/state/kubeconfig/c1"
	plan := topology.ChartPlan{Name: "demo", Release: "demo", Namespace: "apps", Chart: dir, Version: "0.1.0",
		Values: map[string]any{"port": 8080, "nested": map[string]any{"list": []any{"a", 1}}}}

	steps := []struct {
		name        string
		mutate      func(p *topology.ChartPlan)
		wantChanged bool
		wantRev     int
	}{
		{"install", nil, true, 1},
		{"same values: no-op", nil, false, 1},
		{"same values as float64: no-op", func(p *topology.ChartPlan) { p.Values["port"] = float64(8080) }, false, 1},
		{"values change: upgrade", func(p *topology.ChartPlan) { p.Values["greeting"] = "hi" }, true, 2},
		{"again: no-op", nil, false, 2},
		{"template edited, same version: upgrade", func(*topology.ChartPlan) {
			writeChart(t, dir, "0.1.0", cmTemplate+"  extra: \"1\"\n")
		}, true, 3},
		{"chart version bump: upgrade", func(p *topology.ChartPlan) {
			writeChart(t, dir, "0.2.0", cmTemplate+"  extra: \"1\"\n")
			p.Version = "0.2.0"
		}, true, 4},
		{"again: no-op", nil, false, 4},
	}
	for _, st := range steps {
		if st.mutate != nil {
			st.mutate(&plan)
		}
		rel, err := sdk.Apply(ctx, kc, plan)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if rel.Changed != st.wantChanged || rel.Revision != st.wantRev || rel.Status != "deployed" {
			t.Fatalf("%s: got %+v, want changed=%v revision=%d deployed", st.name, rel, st.wantChanged, st.wantRev)
		}
		if rel.Name != "demo" || rel.Namespace != "apps" || rel.Chart != "demo" || rel.Version != plan.Version || rel.AppVersion != "1.0" {
			t.Fatalf("%s: release info %+v", st.name, rel)
		}
	}

	rels, err := sdk.List(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 || rels[0].Name != "demo" || rels[0].Revision != 4 {
		t.Fatalf("list = %+v", rels)
	}
	if err := sdk.Uninstall(ctx, kc, "apps", "demo"); err != nil {
		t.Fatal(err)
	}
	if err := sdk.Uninstall(ctx, kc, "apps", "demo"); err != nil {
		t.Fatalf("second uninstall must be a no-op: %v", err)
	}
	if rels, err := sdk.List(ctx, kc); err != nil || len(rels) != 0 {
		t.Fatalf("after uninstall: %+v, %v", rels, err)
	}
	// One Configuration per (cluster, namespace), initialised once.
	for k, n := range fc.inits {
		if n != 1 {
			t.Errorf("configuration %s initialised %d times", k, n)
		}
	}
}

func TestApplyKeepsClustersApart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeChart(t, dir, "0.1.0", cmTemplate)
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = sdk.Apply(ctx, fmt.Sprintf("/kc/%d", i), topology.ChartPlan{Release: "demo", Namespace: "apps", Chart: dir})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("cluster %d: %v", i, err)
		}
		rels, err := sdk.List(ctx, fmt.Sprintf("/kc/%d", i))
		if err != nil || len(rels) != 1 || rels[0].Revision != 1 {
			t.Fatalf("cluster %d: %+v %v", i, rels, err)
		}
	}
}

func TestApplyRecoversInterruptedReleases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeChart(t, dir, "0.1.0", cmTemplate)
	chrt, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rev int, st release.Status) *release.Release {
		return &release.Release{Name: "demo", Namespace: "apps", Version: rev, Chart: chrt, Config: map[string]any{},
			Info: &release.Info{Status: st}}
	}
	tests := []struct {
		name    string
		history []*release.Release
		wantRev int
	}{
		{"pending-install (Ctrl-C during install) is reinstalled", []*release.Release{mk(1, release.StatusPendingInstall)}, 1},
		{"failed first install is reinstalled", []*release.Release{mk(1, release.StatusFailed)}, 1},
		{"pending-upgrade is unlocked and upgraded", []*release.Release{mk(1, release.StatusDeployed), mk(2, release.StatusPendingUpgrade)}, 3},
		{"failed upgrade over a deployed one is upgraded", []*release.Release{mk(1, release.StatusDeployed), mk(2, release.StatusFailed)}, 3},
		{"no deployed revision left is reinstalled", []*release.Release{mk(1, release.StatusSuperseded), mk(2, release.StatusFailed)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeClusters()
			sdk := New(WithConfigFactory(fc.factory(nil)))
			cfg, err := sdk.config("/kc", "apps")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.history {
				if err := cfg.Releases.Create(r); err != nil {
					t.Fatal(err)
				}
			}
			rel, err := sdk.Apply(ctx, "/kc", topology.ChartPlan{Release: "demo", Namespace: "apps", Chart: dir})
			if err != nil {
				t.Fatal(err)
			}
			if !rel.Changed || rel.Status != "deployed" {
				t.Fatalf("got %+v", rel)
			}
			if rel.Revision != tc.wantRev {
				t.Fatalf("revision %d, want %d", rel.Revision, tc.wantRev)
			}
		})
	}
}

func TestApplyErrorsNameClusterAndRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeChart(t, dir, "0.1.0", cmTemplate)
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(errors.New("apiserver said no"))))
	_, err := sdk.Apply(ctx, "/state/kubeconfig/node-07", topology.ChartPlan{Release: "demo", Namespace: "apps", Chart: dir})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"/state/kubeconfig/node-07", "apps/demo", "install", "apiserver said no"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	bad := []struct {
		name string
		plan topology.ChartPlan
		want string
	}{
		{"no release", topology.ChartPlan{Namespace: "x", Chart: dir}, "release name"},
		{"missing chart", topology.ChartPlan{Release: "r", Namespace: "x", Chart: filepath.Join(dir, "nope")}, "loading chart"},
		{"version pin mismatch", topology.ChartPlan{Release: "r", Namespace: "x", Chart: dir, Version: "9.9.9"}, "plan pins 9.9.9"},
		{"unknown builtin", topology.ChartPlan{Release: "r", Namespace: "x", Chart: "builtin:nope"}, "no builtin chart"},
		{"unpinned repo chart", topology.ChartPlan{Release: "r", Namespace: "x", Chart: "demo", Repo: "http://127.0.0.1:1"}, "pinned version"},
		{"oci", topology.ChartPlan{Release: "r", Namespace: "x", Chart: "demo", Repo: "oci://example", Version: "1.0.0"}, "OCI"},
		{"unserialisable values", topology.ChartPlan{Release: "r", Namespace: "x", Chart: dir, Values: map[string]any{"f": func() {}}}, "values"},
	}
	for _, tc := range bad {
		if _, err := New(WithConfigFactory(fc.factory(nil))).Apply(ctx, "/kc/x", tc.plan); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/kc/x") {
			t.Errorf("%s: err = %v, want %q and the kubeconfig", tc.name, err, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sdk.Apply(cctx, "/kc", topology.ChartPlan{Release: "demo", Namespace: "apps", Chart: dir}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

func TestDefaultFactoryNamesMissingKubeconfig(t *testing.T) {
	sdk := New()
	missing := filepath.Join(t.TempDir(), "kubeconfig", "gone")
	_, err := sdk.List(context.Background(), missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v", err)
	}
}

func TestMultusChartInstallsFromTheBinary(t *testing.T) {
	ctx := context.Background()
	plan := &topology.Plan{Name: "lab", Multus: topology.MultusPlan{Version: "v4.2.2", Image: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2"}}
	c := topology.ClusterPlan{Name: "node-01"}
	ch, err := MultusChart(plan, c)
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)))
	rel, err := sdk.Apply(ctx, "/kc", ch)
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Changed || rel.Chart != "multus" || rel.Version != MultusChartVersion || rel.Namespace != "kube-system" {
		t.Fatalf("got %+v", rel)
	}
	cfg, _ := sdk.config("/kc", MultusNamespace)
	stored, err := cfg.Releases.Last(MultusRelease)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"name: " + MultusDaemonSet,
		"image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2",
		"imagePullPolicy: IfNotPresent",
		`"--multus-conf-file=auto"`,
		`command: ["/thin_entrypoint"]`,
		"dev.testbed.cluster: node-01",
		"kind: ClusterRoleBinding",
		"kind: ServiceAccount",
	} {
		if !strings.Contains(stored.Manifest, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	if crds := stored.Chart.CRDObjects(); len(crds) != 1 || !bytes.Contains(crds[0].File.Data, []byte("network-attachment-definitions.k8s.cni.cncf.io")) {
		t.Errorf("chart CRDs = %d, want the NetworkAttachmentDefinition CRD", len(crds))
	}
	if rel, err := sdk.Apply(ctx, "/kc", ch); err != nil || rel.Changed {
		t.Fatalf("second apply: %+v %v", rel, err)
	}

	if _, err := MultusChart(&topology.Plan{Multus: topology.MultusPlan{Image: "ghcr.io/x/multus"}}, c); err == nil {
		t.Error("untagged multus image: want error")
	}
}

// packageChart returns a chart .tgz built with the SDK.
func packageChart(t *testing.T, name, version string) []byte {
	t.Helper()
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: version, AppVersion: version},
		Values:   map[string]any{"greeting": "hello"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  greeting: {{ .Values.greeting | quote }}\n")}},
	}
	dir := t.TempDir()
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chartRepo serves index.yaml and the packaged charts on loopback, like
// https://fluidos-project.github.io/node/ does for the node chart.
func chartRepo(t *testing.T, charts map[string][]byte) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	hits := new(int)
	idx := repo.NewIndexFile()
	for file, data := range charts {
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.MustAdd(ch.Metadata, file, "", "sha256:0"); err != nil {
			t.Fatal(err)
		}
	}
	idx.SortEntries()
	idxPath := filepath.Join(t.TempDir(), "index.yaml")
	if err := idx.WriteFile(idxPath, 0o644); err != nil {
		t.Fatal(err)
	}
	idxData, err := os.ReadFile(idxPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*hits++
		mu.Unlock()
		name := strings.TrimPrefix(r.URL.Path, "/node/")
		if name == "index.yaml" {
			_, _ = w.Write(idxData)
			return
		}
		if data, ok := charts[name]; ok {
			_, _ = w.Write(data)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func TestRepoChartResolution(t *testing.T) {
	ctx := context.Background()
	srv, hits := chartRepo(t, map[string][]byte{
		"node-v0.1.1.tgz": packageChart(t, "node", "v0.1.1"),
		"node-v0.1.2.tgz": packageChart(t, "node", "v0.1.2"),
	})
	repoURL := srv.URL + "/node/"
	cache := t.TempDir()
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)), WithCacheDir(cache))
	plan := topology.ChartPlan{Release: "node", Namespace: "fluidos", Chart: "node", Repo: repoURL, Version: "v0.1.2",
		Values: map[string]any{"greeting": "hi"}}

	rel, err := sdk.Apply(ctx, "/kc/a", plan)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != "v0.1.2" || !rel.Changed {
		t.Fatalf("got %+v", rel)
	}
	if _, err := os.Stat(sdk.cachePath(repoURL, "node", "v0.1.2")); err != nil {
		t.Fatalf("chart not cached: %v", err)
	}
	first := *hits
	if first != 2 {
		t.Errorf("first resolution made %d requests, want 2 (index + chart)", first)
	}
	// Second cluster and second `up`: served from the cache, no network.
	srv.Close()
	for _, kc := range []string{"/kc/b", "/kc/a"} {
		rel, err := sdk.Apply(ctx, kc, plan)
		if err != nil {
			t.Fatalf("%s from cache: %v", kc, err)
		}
		if want := kc == "/kc/b"; rel.Changed != want {
			t.Errorf("%s: changed=%v want %v", kc, rel.Changed, want)
		}
	}
	if *hits != first {
		t.Errorf("cached chart re-downloaded")
	}
}

func TestRepoChartPinErrors(t *testing.T) {
	ctx := context.Background()
	// The index claims v0.1.3 but the archive holds v0.1.2: the pin check
	// must catch it.
	liar := packageChart(t, "node", "v0.1.2")
	srv, _ := chartRepo(t, map[string][]byte{"node-v0.1.2.tgz": packageChart(t, "node", "v0.1.2")})
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)), WithCacheDir(t.TempDir()))
	_, err := sdk.Apply(ctx, "/kc", topology.ChartPlan{Release: "node", Namespace: "fluidos", Chart: "node", Repo: srv.URL + "/node/", Version: "v9.9.9"})
	if err == nil || !strings.Contains(err.Error(), "v9.9.9") {
		t.Errorf("missing version: err = %v", err)
	}

	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "index.yaml") {
			fmt.Fprintf(w, "apiVersion: v1\nentries:\n  node:\n  - apiVersion: v2\n    name: node\n    version: v0.1.3\n    urls: [node-v0.1.3.tgz]\n")
			return
		}
		_, _ = w.Write(liar)
	}))
	defer srv2.Close()
	_, err = sdk.Apply(ctx, "/kc", topology.ChartPlan{Release: "node", Namespace: "fluidos", Chart: "node", Repo: srv2.URL, Version: "v0.1.3"})
	if err == nil || !strings.Contains(err.Error(), "want node v0.1.3") {
		t.Errorf("archive/index mismatch: err = %v", err)
	}
}

func TestRecreatedClusterGetsFreshClient(t *testing.T) {
	ctx := context.Background()
	kc := filepath.Join(t.TempDir(), "node-01")
	if err := os.WriteFile(kc, []byte("server: https://127.0.0.1:40001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)))
	for range 2 {
		if _, err := sdk.List(ctx, kc); err != nil {
			t.Fatal(err)
		}
	}
	if n := fc.inits[kc+"|"]; n != 1 {
		t.Fatalf("same kubeconfig: %d configurations, want 1", n)
	}
	// `up --recreate` rewrites the kubeconfig (new port and CA).
	if err := os.WriteFile(kc, []byte("server: https://127.0.0.1:40002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.List(ctx, kc); err != nil {
		t.Fatal(err)
	}
	if n := fc.inits[kc+"|"]; n != 2 {
		t.Fatalf("rewritten kubeconfig: %d configurations, want 2", n)
	}
}

func TestUpgradeOverImmutableFieldReinstalls(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeChart(t, dir, "0.1.0", cmTemplate)
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)))
	plan := topology.ChartPlan{Release: "node", Namespace: "fluidos", Chart: dir}
	if _, err := sdk.Apply(ctx, "/kc", plan); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		updateErr error
		wantErr   string
	}{
		{"immutable selector: replaced", errors.New(`DaemonSet.apps "node-network-manager" is invalid: spec.selector: Invalid value: {...}: field is immutable`), ""},
		{"other update error: reported", errors.New("admission webhook denied"), "upgrade: "},
	}
	for i, tc := range tests {
		fc.updateErr = tc.updateErr
		sdk := New(WithConfigFactory(fc.factory(nil))) // fresh clients with the new error
		writeChart(t, dir, fmt.Sprintf("0.%d.0", i+2), cmTemplate)
		rel, err := sdk.Apply(ctx, "/kc", plan)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "fluidos/node") {
				t.Errorf("%s: err = %v", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !rel.Changed || rel.Revision != 1 || rel.Version != "0.2.0" || rel.Status != "deployed" {
			t.Errorf("%s: got %+v, want a fresh revision 1 of 0.2.0", tc.name, rel)
		}
	}
}

func TestStrictSchemaChartDropsTestbedBlock(t *testing.T) {
	ctx := context.Background()
	schema := `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
  "properties": {"greeting": {"type": "string"}, "port": {"type": "integer"}}}`
	tests := []struct {
		name        string
		schema      string
		values      map[string]any
		wantTestbed bool
		wantErr     bool
	}{
		{"strict schema: block dropped", schema, map[string]any{"greeting": "hi", "testbed": map[string]any{"cluster": "node-01"}}, false, false},
		{"no schema: block kept", "", map[string]any{"greeting": "hi", "testbed": map[string]any{"cluster": "node-01"}}, true, false},
		{"other violation: reported, not hidden", schema, map[string]any{"greeting": 7, "testbed": map[string]any{}}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeChart(t, dir, "0.1.0", cmTemplate)
			if tc.schema != "" {
				if err := os.WriteFile(filepath.Join(dir, "values.schema.json"), []byte(tc.schema), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fc := newFakeClusters()
			sdk := New(WithConfigFactory(fc.factory(nil)))
			plan := topology.ChartPlan{Release: "cert-manager", Namespace: "cert-manager", Chart: dir, Values: tc.values}
			_, err := sdk.Apply(ctx, "/kc", plan)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want a schema error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, _ := sdk.config("/kc", "cert-manager")
			rel, err := cfg.Releases.Last("cert-manager")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := rel.Config["testbed"]; ok != tc.wantTestbed {
				t.Errorf("stored values %v: testbed present=%v want %v", rel.Config, ok, tc.wantTestbed)
			}
			// Converges: the second apply compares the same fitted values.
			if r, err := sdk.Apply(ctx, "/kc", plan); err != nil || r.Changed {
				t.Errorf("second apply: %+v %v", r, err)
			}
		})
	}
}

func TestLocalArchiveChart(t *testing.T) {
	tgz := filepath.Join(t.TempDir(), "node-v0.1.2.tgz")
	if err := os.WriteFile(tgz, packageChart(t, "node", "v0.1.2"), 0o644); err != nil {
		t.Fatal(err)
	}
	fc := newFakeClusters()
	sdk := New(WithConfigFactory(fc.factory(nil)))
	// "0.1.2" pins the same version as the archive's "v0.1.2".
	rel, err := sdk.Apply(context.Background(), "/kc", topology.ChartPlan{Release: "node", Namespace: "fluidos", Chart: tgz, Version: "0.1.2"})
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Changed || rel.Chart != "node" || rel.Version != "v0.1.2" {
		t.Fatalf("got %+v", rel)
	}
}
