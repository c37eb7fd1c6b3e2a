// Package multus embeds the Multus thin-plugin chart so the testbed binary
// can install it from anywhere (no chart files needed next to the binary).
package multus

import "embed"

// Files is the chart directory: Chart.yaml, values.yaml, templates/, crds/.
//
//go:embed Chart.yaml values.yaml all:templates crds
var Files embed.FS
