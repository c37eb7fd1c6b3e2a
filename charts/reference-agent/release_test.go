package referenceagent

import (
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestChartNamesIgnoreRelease: whatever the release is called (the CI lab
// installs the chart as release lab-discovery), the workload and its
// service account are named after the chart and carry the chart's name
// label, which is what status, selftest, the runner and the sweep find it
// by; only the instance label follows the release.
func TestChartNamesIgnoreRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		release, kind string
	}{
		{"reference-agent", "DaemonSet"},
		{"lab-discovery", "DaemonSet"},
		{"lab-discovery", "Deployment"},
	}
	for _, tc := range tests {
		t.Run(tc.release+"/"+tc.kind, func(t *testing.T) {
			c := loadChart(t)
			vals := testbedValues()
			vals["kind"] = tc.kind
			rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{Name: tc.release, Namespace: "testbed-agent", IsInstall: true}, chartutil.DefaultCapabilities)
			if err != nil {
				t.Fatal(err)
			}
			out, err := engine.Render(c, rv)
			if err != nil {
				t.Fatal(err)
			}
			var w appsv1.DaemonSet // same shape as a Deployment for these fields
			if err := yaml.Unmarshal([]byte(out[Name+"/templates/workload.yaml"]), &w); err != nil {
				t.Fatal(err)
			}
			if w.Kind != tc.kind || w.Name != Name || w.Namespace != "testbed-agent" {
				t.Errorf("workload %s %s/%s, want %s testbed-agent/%s", w.Kind, w.Namespace, w.Name, tc.kind, Name)
			}
			if w.Spec.Template.Spec.ServiceAccountName != Name {
				t.Errorf("service account %q, want %q", w.Spec.Template.Spec.ServiceAccountName, Name)
			}
			want := map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/instance": tc.release}
			for k, v := range want {
				if w.Labels[k] != v || w.Spec.Selector.MatchLabels[k] != v || w.Spec.Template.Labels[k] != v {
					t.Errorf("label %s: workload %q, selector %q, pods %q; want %q", k, w.Labels[k], w.Spec.Selector.MatchLabels[k], w.Spec.Template.Labels[k], v)
				}
			}
		})
	}
}
