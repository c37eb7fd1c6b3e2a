package referenceagent

import (
	"embed"
	"io/fs"
)

// Name is the chart's name and the builtin chart key.
const Name = "reference-agent"

// Version is the chart version (Chart.yaml).
const Version = "0.1.0"

//go:embed Chart.yaml values.yaml .helmignore all:templates crds
var files embed.FS

// FS returns the chart directory (Chart.yaml at its root).
func FS() fs.FS { return files }
