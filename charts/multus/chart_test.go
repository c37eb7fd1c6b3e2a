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
	if ch.Metadata.Version != "4.2.2-testbed.1" || ch.Metadata.AppVersion != "v4.2.2" {
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
		`command: ["/install_multus"]`,
		"mountPropagation: Bidirectional",
	} {
		if !strings.Contains(ds, want) {
			t.Errorf("daemonset lacks %q:\n%s", want, ds)
		}
	}
}
