package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fluidos-lab/testbed/provision/helm"
	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/provenance"
	"github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/impair"
	"github.com/fluidos-lab/testbed/topology"
)

// ExecOptions is what `testbed run` asks for.
type ExecOptions struct {
	// Scenario is the scenario file (ignored when Resume is set).
	Scenario string
	// Resume is a campaign directory to continue; its manifest supplies the
	// scenario, topology and seed exactly as they were.
	Resume string
	// Output overrides the scenario's output directory.
	Output      string
	ToolVersion string
	Progress    io.Writer
}

// Execute loads a scenario and its topology, connects to the lab, probes
// the host's impairment support, collects the manifest and runs (or
// resumes) the campaign.
func Execute(ctx context.Context, o ExecOptions) (*Summary, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	s, topo, dir, inputs, err := loadInputs(o)
	if err != nil {
		return nil, err
	}
	plan, err := topo.Plan()
	if err != nil {
		return nil, fmt.Errorf("planning topology %s: %w", s.TopologyFile, err)
	}
	var nodeA *topology.ClusterPlan
	for i := range plan.Clusters {
		if plan.Clusters[i].Name == s.NodeA {
			nodeA = &plan.Clusters[i]
		}
	}
	if nodeA == nil || len(nodeA.Nodes) == 0 {
		return nil, fmt.Errorf("scenario %s: nodeA %q is not a cluster of topology %s", s.File, s.NodeA, plan.Name)
	}
	clusters, err := Connect(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("connecting to lab %s (is it up? `testbed status %s`): %w", plan.Name, s.TopologyFile, err)
	}

	opts := Options{Progress: o.Progress, Interface: plan.Macvlan.PodInterface}
	x, cli, derr := impair.NewDocker()
	var src provenance.Sources
	src.ToolVersion, src.Root = o.ToolVersion, os.DirFS("/")
	src.Helm = helm.New()
	src.Kube = func(c topology.ClusterPlan) (kubernetes.Interface, error) {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}
	if derr == nil {
		defer cli.Close()
		resolver := impair.NewResolver(x)
		opts.Starts = NewCRIStarts(resolver)
		src.Docker, src.Exec = provenance.DockerClient{Client: cli}, x
		if needsImpairment(s) {
			caps, err := impair.Probe(ctx, x, nodeA.Nodes[0].Name)
			if err != nil {
				return nil, fmt.Errorf("cluster %q: probing impairment support: %w", s.NodeA, err)
			}
			opts.Impairments = func(spec impair.Spec) (Impairment, error) {
				return impair.Select(caps, spec, x, resolver)
			}
		}
	} else if needsImpairment(s) {
		return nil, fmt.Errorf("impairments need the Docker engine to reach the KinD nodes: %w", derr)
	}

	var m results.Manifest
	if o.Resume == "" {
		var peers []string
		for _, c := range plan.Clusters {
			peers = append(peers, c.Name)
		}
		m, err = provenance.Collect(ctx, src, provenance.Request{Plan: plan, Clusters: peers, Inputs: inputs, Kind: "campaign"})
		if err != nil {
			return nil, fmt.Errorf("collecting the manifest: %w", err)
		}
	}
	r, err := New(s, clusters, opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "campaign %s: scenario %s, node A %s, %d peers, phase %s, seed %d\n", dir, s.Name, s.NodeA, len(r.peers), s.Phase, s.Seed)
	return r.Run(ctx, Campaign{Dir: dir, Resume: o.Resume != "", Manifest: m})
}

// needsImpairment: a condition impairs, or failureDetection silences node A.
func needsImpairment(s *scenarios.Scenario) bool {
	if s.Measures(scenarios.MeasureFailureDetection) {
		return true
	}
	for _, c := range s.Conditions {
		if !specOf(c.Impairment).IsZero() {
			return true
		}
	}
	return false
}

// loadInputs reads the scenario and topology, from files or (resume) from
// the campaign's manifest, and picks the campaign directory.
func loadInputs(o ExecOptions) (*scenarios.Scenario, *topology.Topology, string, []results.Input, error) {
	if o.Resume != "" {
		c, err := store.Read(o.Resume)
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("resuming %s: %w", o.Resume, err)
		}
		var sIn, tIn *results.Input
		for i := range c.Manifest.Inputs {
			switch c.Manifest.Inputs[i].Role {
			case "scenario":
				sIn = &c.Manifest.Inputs[i]
			case "topology":
				tIn = &c.Manifest.Inputs[i]
			}
		}
		if sIn == nil || tIn == nil {
			return nil, nil, "", nil, fmt.Errorf("resuming %s: the manifest does not record the scenario and topology inputs", o.Resume)
		}
		s, err := scenarios.LoadBytes(sIn.Path, []byte(sIn.Content))
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("resuming %s: recorded scenario: %w", o.Resume, err)
		}
		s.Seed, s.SeedGiven = c.Manifest.Seed, true
		topo, err := topology.Parse(tIn.Path, []byte(tIn.Content))
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("resuming %s: recorded topology: %w", o.Resume, err)
		}
		return s, topo, o.Resume, nil, nil
	}
	if o.Scenario == "" {
		return nil, nil, "", nil, errors.New("no scenario file given")
	}
	s, err := scenarios.Load(o.Scenario)
	if err != nil {
		return nil, nil, "", nil, err
	}
	topo, err := topology.Load(s.TopologyFile)
	if err != nil {
		return nil, nil, "", nil, err
	}
	var inputs []results.Input
	for _, in := range [][2]string{{"scenario", s.File}, {"topology", s.TopologyFile}} {
		i, err := provenance.ReadInput(in[0], in[1])
		if err != nil {
			return nil, nil, "", nil, err
		}
		inputs = append(inputs, i)
	}
	dir := o.Output
	if dir == "" {
		dir = s.Output
	}
	if dir == "" {
		dir = filepath.Join("results", s.Name+"-"+time.Now().UTC().Format("20060102-150405"))
	}
	return s, topo, dir, inputs, nil
}
