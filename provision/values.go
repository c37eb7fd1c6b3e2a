package provision

import (
	"maps"
	"strings"

	"github.com/fluidos-lab/testbed/topology"
)

// AgentImageRepo is the reference agent's image repository; the tag is the
// short hash of the testbed binary.
const AgentImageRepo = "testbed.local/reference-agent"

// TestbedValues is the `testbed:` block merged into every chart's values on
// one cluster. nodeAddress is the control-plane container's address on the
// shared network; agentImage may be empty when no chart needs it.
func TestbedValues(plan *topology.Plan, c topology.ClusterPlan, nodeAddress, agentImage string) map[string]any {
	return map[string]any{
		"topology":     plan.Name,
		"cluster":      c.Name,
		"clusterIndex": c.Index,
		"nodeAddress":  nodeAddress,
		"agentImage":   agentImage,
		"macvlan": map[string]any{
			"nad":       plan.Macvlan.NADName,
			"interface": plan.Macvlan.PodInterface,
			"address":   c.Macvlan.RangeStart,
			"subnet":    c.Macvlan.Subnet,
		},
	}
}

// WithValues returns a copy of chart whose values are base deep-merged with
// overlay (overlay wins) and the testbed block set at key "testbed".
func WithValues(chart topology.ChartPlan, overlay map[string]any, testbed map[string]any) topology.ChartPlan {
	out := chart
	v := deepMerge(cloneMap(chart.Values), overlay)
	v = deepMerge(v, map[string]any{"testbed": testbed})
	out.Values = v
	return out
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			out[k] = cloneMap(mm)
			continue
		}
		out[k] = v
	}
	return out
}

// deepMerge merges src into dst (src wins; maps merge recursively) and
// returns dst.
func deepMerge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dm, sm)
				continue
			}
			dst[k] = deepMerge(map[string]any{}, sm)
			continue
		}
		dst[k] = sv
	}
	return dst
}

// usesAgentImage reports whether a chart needs the reference agent image.
func usesAgentImage(c topology.ChartPlan) bool {
	ch := strings.TrimSuffix(strings.TrimSuffix(c.Chart, "/"), ".tgz")
	return strings.HasSuffix(ch, "reference-agent") || c.Name == "reference-agent"
}

// chartsOf splits a cluster's charts into the FLUIDOS chart and the extra
// charts, in install order. Multus is installed separately (its chart comes
// from the helm package) and is dropped if the plan lists it.
func chartsOf(plan *topology.Plan, c topology.ClusterPlan) (fluidos *topology.ChartPlan, extra []topology.ChartPlan) {
	charts := c.Charts
	if len(charts) == 0 {
		if plan.Fluidos != nil {
			charts = append(charts, *plan.Fluidos)
		}
		charts = append(charts, plan.ExtraCharts...)
	}
	fluidosName := "fluidos"
	if plan.Fluidos != nil && plan.Fluidos.Name != "" {
		fluidosName = plan.Fluidos.Name
	}
	for _, ch := range charts {
		switch {
		case ch.Name == "multus":
		case plan.Fluidos != nil && ch.Name == fluidosName:
			f := ch
			f.Values = maps.Clone(ch.Values)
			fluidos = &f
		default:
			extra = append(extra, ch)
		}
	}
	return fluidos, extra
}
