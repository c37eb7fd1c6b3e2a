package multus

import "embed"

// Files is the chart directory: Chart.yaml, values.yaml, templates/, crds/.
//
//go:embed Chart.yaml values.yaml all:templates crds
var Files embed.FS
