package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/docker/docker/client"
	"github.com/mattn/go-isatty"

	referenceagent "github.com/fluidos-lab/testbed/charts/reference-agent"
	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/provision/agentimage"
	tbdocker "github.com/fluidos-lab/testbed/provision/docker"
	"github.com/fluidos-lab/testbed/provision/helm"
	"github.com/fluidos-lab/testbed/provision/kind"
	"github.com/fluidos-lab/testbed/topology"
)

// progressFor picks ANSI status lines on a terminal, plain lines otherwise.
func progressFor(w io.Writer, plan *topology.Plan) provision.Progress {
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb" {
		var names []string
		if plan != nil {
			for _, c := range plan.Clusters {
				names = append(names, c.Name)
			}
		}
		return provision.NewTTYProgress(w, names)
	}
	return &provision.PlainProgress{W: w}
}

// newProvisioner wires the production seams: the Docker Engine API, KinD as
// a library and the Helm SDK. The caller closes the returned client.
func newProvisioner(progress provision.Progress, extra ...provision.Option) (*provision.Provisioner, *client.Client, error) {
	dc, err := tbdocker.NewClient()
	if err != nil {
		return nil, nil, err
	}
	opts := []provision.Option{
		provision.WithClusters(&kind.Kind{}),
		provision.WithNetwork(&tbdocker.Networks{API: dc}),
		provision.WithImages(provision.DockerImages{API: dc}),
		provision.WithCNI(provision.DockerCNI{API: dc, Getenv: os.Getenv}),
		provision.WithCharts(newInstaller()),
		provision.WithProgress(progress),
		provision.WithNetworkSelector(kind.UseNetwork),
		// The reference agent image is built from this very binary.
		provision.WithAgentImage(func(ctx context.Context) (string, error) {
			ref, _, err := agentimage.Ensure(ctx, dc, "")
			return ref, err
		}),
	}
	p, err := provision.New(append(opts, extra...)...)
	if err != nil {
		dc.Close()
		return nil, nil, fmt.Errorf("setting up provisioning: %w", err)
	}
	return p, dc, nil
}

// newInstaller is the Helm SDK installer with this binary's embedded charts
// (builtin:multus, builtin:reference-agent), so a lab can be built from any
// working directory.
func newInstaller() *helm.SDK {
	return helm.New(helm.WithBuiltinChart(referenceagent.Name, referenceagent.FS()))
}

// stateRootOf is the state root a plan's lab lives under.
func stateRootOf(plan *topology.Plan) string { return filepath.Dir(plan.StateDir) }
