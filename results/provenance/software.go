package provenance

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/docker/docker/api/types"

	"github.com/fluidos-lab/testbed/results"
)

// Module paths whose versions the manifest records.
const (
	modKind     = "sigs.k8s.io/kind"
	modHelm     = "helm.sh/helm/v3"
	modClientGo = "k8s.io/client-go"
)

// ReadSoftware reports the tool's version and commit and the versions of the
// libraries that shape a lab, from the binary's build information.
func ReadSoftware(toolVersion string) results.Software {
	bi, _ := debug.ReadBuildInfo()
	return softwareFrom(toolVersion, bi)
}

func softwareFrom(toolVersion string, bi *debug.BuildInfo) results.Software {
	s := results.Software{Tool: toolVersion, Go: runtime.Version()}
	if bi == nil {
		return s
	}
	if bi.GoVersion != "" {
		s.Go = bi.GoVersion
	}
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" {
			s.Commit = st.Value
		}
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		switch d.Path {
		case modKind:
			s.Kind = v
		case modHelm:
			s.Helm = v
		case modClientGo:
			s.ClientGo = v
		}
	}
	return s
}

// VersionReader is the one Docker call DockerVersion needs.
type VersionReader interface {
	ServerVersion(ctx context.Context) (types.Version, error)
}

// DockerVersion returns the engine's version and API version.
func DockerVersion(ctx context.Context, d VersionReader) (string, error) {
	v, err := d.ServerVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the Docker engine version: %w", err)
	}
	return fmt.Sprintf("%s (API %s)", v.Version, v.APIVersion), nil
}
