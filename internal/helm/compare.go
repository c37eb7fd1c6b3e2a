package helm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
)

// normalizeValues deep-copies values through JSON so they compare equal to
// what Helm stores (numbers as float64, maps as map[string]any).
func normalizeValues(v map[string]any) (map[string]any, error) {
	if len(v) == 0 {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// upToDate reports whether the deployed release already runs chrt with vals:
// same chart name and version, same chart content (templates, default values,
// CRDs; so an edited local chart with an unchanged version still upgrades)
// and the same user-supplied values.
func upToDate(deployed *release.Release, chrt *chart.Chart, vals map[string]any) bool {
	if deployed.Chart == nil || deployed.Chart.Metadata == nil {
		return false
	}
	if deployed.Chart.Metadata.Name != chrt.Metadata.Name || deployed.Chart.Metadata.Version != chrt.Metadata.Version {
		return false
	}
	if chartDigest(deployed.Chart) != chartDigest(chrt) {
		return false
	}
	have, err := normalizeValues(deployed.Config)
	if err != nil {
		return false
	}
	return reflect.DeepEqual(have, vals)
}

// chartDigest hashes what Helm stores of a chart and renders from: its
// templates, default values and files. Subcharts are not part of a stored
// release, so a subchart change needs a parent version bump to be seen.
func chartDigest(c *chart.Chart) string {
	h := sha256.New()
	walk := func(c *chart.Chart) {
		fmt.Fprintf(h, "chart %s %s\n", c.Name(), c.Metadata.Version)
		files := append(append([]*chart.File{}, c.Templates...), c.Files...)
		sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		for _, f := range files {
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(h, "%s %x\n", f.Name, sum)
		}
		v, _ := json.Marshal(c.Values) // map keys are sorted by encoding/json
		h.Write(v)
	}
	walk(c)
	return hex.EncodeToString(h.Sum(nil))
}

// TestbedKey is the values key of the block provisioning adds to every chart.
const TestbedKey = "testbed"

// fitSchema drops the testbed block from vals when the chart's values schema
// rejects it (e.g. cert-manager's root has additionalProperties: false) and
// the values are valid without it. Any other schema error is left for Helm
// to report.
func fitSchema(chrt *chart.Chart, vals map[string]any) (map[string]any, bool) {
	if len(chrt.Schema) == 0 {
		return vals, false
	}
	if _, ok := vals[TestbedKey]; !ok {
		return vals, false
	}
	valid := func(v map[string]any) bool {
		cv, err := chartutil.CoalesceValues(chrt, v)
		return err == nil && chartutil.ValidateAgainstSingleSchema(cv, chrt.Schema) == nil
	}
	if valid(vals) {
		return vals, false
	}
	without := make(map[string]any, len(vals))
	for k, v := range vals {
		if k != TestbedKey {
			without[k] = v
		}
	}
	if !valid(without) {
		return vals, false
	}
	return without, true
}
