package multus

import (
	"io/fs"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

func TestChartLints(t *testing.T) {
	l := lint.All(".", nil, "kube-system", false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("lint: %s", m)
		}
	}
}

// The embedded copy must be the whole chart, including _helpers.tpl and the
// CRD, and nothing else.
func TestEmbeddedChart(t *testing.T) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(Files, p)
		files = append(files, &loader.BufferedFile{Name: p, Data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != "4.2.2-testbed.3" || ch.Metadata.AppVersion != "v4.2.2" {
		t.Errorf("chart %s %s", ch.Metadata.Version, ch.Metadata.AppVersion)
	}
	if len(ch.CRDObjects()) != 1 {
		t.Errorf("CRDs: %d", len(ch.CRDObjects()))
	}
	rv, err := chartutil.ToRenderValues(ch, nil, chartutil.ReleaseOptions{Name: "multus", Namespace: "kube-system", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	ds := out["multus/templates/daemonset.yaml"]
	for _, want := range []string{
		"name: kube-multus-ds",
		"namespace: kube-system",
		"image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2",
		"imagePullPolicy: IfNotPresent",
		`"--multus-conf-file=auto"`,
		`command: ["/thin_entrypoint"]`,
	} {
		if !strings.Contains(ds, want) {
			t.Errorf("daemonset lacks %q:\n%s", want, ds)
		}
	}
	// The thin entrypoint installs the binary itself: no init container
	// (about 2 s on the path from a node's Ready to Multus' configuration),
	// and nothing tells the entrypoint to skip its copy.
	for _, unwanted := range []string{"initContainers", "install_multus", "--skip-multus-binary-copy"} {
		if strings.Contains(ds, unwanted) {
			t.Errorf("daemonset has %q:\n%s", unwanted, ds)
		}
	}
	checkTolerations(t, ds)
}

// checkTolerations: Multus tolerates the control plane and any NoExecute
// taint, but not a node that is not ready: scheduled there it would find no
// primary CNI configuration, exit, and sit in crash back-off.
func checkTolerations(t *testing.T, ds string) {
	t.Helper()
	var obj struct {
		Spec struct {
			Template struct {
				Spec struct {
					Tolerations []struct{ Key, Operator, Effect string }
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(ds), &obj); err != nil {
		t.Fatal(err)
	}
	tolerates := func(key, effect string) bool {
		for _, tl := range obj.Spec.Template.Spec.Tolerations {
			if (tl.Key == key || (tl.Key == "" && tl.Operator == "Exists")) && (tl.Effect == effect || tl.Effect == "") {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		key, effect string
		want        bool
	}{
		{"node.kubernetes.io/not-ready", "NoSchedule", false},
		{"node-role.kubernetes.io/control-plane", "NoSchedule", true},
		{"node.kubernetes.io/not-ready", "NoExecute", true},
		{"node.kubernetes.io/unreachable", "NoExecute", true},
	} {
		if got := tolerates(c.key, c.effect); got != c.want {
			t.Errorf("tolerates %s:%s = %v, want %v (%+v)", c.key, c.effect, got, c.want, obj.Spec.Template.Spec.Tolerations)
		}
	}
}
