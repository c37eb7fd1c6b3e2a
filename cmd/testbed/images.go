package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/images"
	"github.com/fluidos-lab/testbed/topology"
)

func newImagesCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "The images this tool built: baked node images and reference agent images",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "prune",
		Short: "Remove the images this tool built that no container uses, on this engine and on every host of a recorded multi-host lab",
		Long: "prune removes the node images up baked (label dev.testbed.baked=true) and the reference agent images " +
			"(testbed.local/reference-agent, built from the testbed binary) that no container uses, on the local Docker " +
			"engine and on the hosts of every multi-host lab recorded under the state root. Images it pulled or copied " +
			"(KinD node images, Multus, chart images) stay. `down --all` does the same after removing the labs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			labs, err := recordedLabs(topology.EnvironmentFromOS(nil).StateRoot)
			return errors.Join(err, a.pruneImages(cmd.Context(), labs))
		},
	})
	return cmd
}

// recordedLabs are the multi-host labs up recorded under stateRoot
// (<lab>/hosts.json), with an error for each record that cannot be used
// (unreadable, or naming another lab than its directory). A missing state
// root holds none.
func recordedLabs(stateRoot string) ([]*topology.Plan, error) {
	dirs, err := os.ReadDir(stateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state root: %w", err)
	}
	var out []*topology.Plan
	var errs []error
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(stateRoot, d.Name())
		rec, err := readHosts(dir)
		if err == nil && rec != nil && rec.Topology != d.Name() {
			err = fmt.Errorf("%s records lab %q, not %q (remove it if the lab is gone)", filepath.Join(dir, hostsFile), rec.Topology, d.Name())
		}
		switch {
		case err != nil:
			errs = append(errs, err)
		case rec != nil:
			out = append(out, rec.plan(stateRoot))
		}
	}
	return out, errors.Join(errs...)
}

// pruneImages prunes the images this tool built on the local engine and on
// the hosts of labs (each host once), and prints what it removed.
func (a *app) pruneImages(ctx context.Context, labs []*topology.Plan) error {
	var errs []error
	dc, err := a.Docker()
	if err != nil {
		return err
	}
	removed, err := images.Prune(ctx, dc, nil)
	printPruned(a.streams.Out, "this engine", removed)
	errs = append(errs, err)
	seen := map[string]bool{}
	for _, plan := range labs {
		for _, h := range plan.Hosts {
			if seen[h.Endpoint] || isDefaultEngine(h.Endpoint) {
				continue
			}
			seen[h.Endpoint] = true
			hc, err := a.hostClient(plan, h.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
				continue
			}
			removed, err := images.Prune(ctx, hc, nil)
			printPruned(a.streams.Out, "host "+h.Name+" ("+h.Endpoint+")", removed)
			if err != nil {
				errs = append(errs, fmt.Errorf("host %s: %w", h.Name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("images prune: %w", err)
	}
	return nil
}

// isDefaultEngine reports whether an endpoint is the engine a.Docker()
// reaches (the default socket with no DOCKER_HOST set).
func isDefaultEngine(endpoint string) bool {
	return os.Getenv("DOCKER_HOST") == "" && endpoint == "unix:///var/run/docker.sock"
}

func printPruned(w io.Writer, where string, removed []string) {
	if len(removed) == 0 {
		fmt.Fprintf(w, "%s: no unused image built by testbed\n", where)
		return
	}
	fmt.Fprintf(w, "%s: removed %d image(s) built by testbed: %s\n", where, len(removed), strings.Join(removed, " "))
}
