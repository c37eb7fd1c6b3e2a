package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/goccy/go-yaml"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/compare"
	"github.com/fluidos-lab/testbed/results/provenance"
	resultstore "github.com/fluidos-lab/testbed/results/store"
	"github.com/fluidos-lab/testbed/scenarios"
	"github.com/fluidos-lab/testbed/scenarios/runner"
	"github.com/fluidos-lab/testbed/topology"
)

// FileCompare is the rerun's comparison against the original campaign.
const FileCompare = "compare.json"

// ImageStore inspects images on this host (the Docker client through
// provenance.DockerClient).
type ImageStore interface {
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
}

// RerunOptions describe this host and binary, to compare with the manifest.
type RerunOptions struct {
	Software results.Software
	Host     results.Host
	// AgentImage is the reference agent image this binary provisions.
	AgentImage string
}

// RerunPlan is how a campaign will be rerun and everything that will not be
// exactly as it was.
type RerunPlan struct {
	Source   string
	Original *resultstore.Campaign
	// ScenarioDoc and TopologyDoc are the recorded inputs; the topology's
	// node image is pinned to what ran when it is still on this host.
	ScenarioDoc []byte
	TopologyDoc []byte
	// Clusters are the clusters the original campaign ran on (a subset
	// sweep cell runs on a prefix of a larger lab).
	Clusters []string
	// NodeImage is the pinned node image ("" when it cannot be pinned).
	NodeImage string
	// Differences say what cannot be reproduced exactly; empty means exact.
	Differences []string
}

// Exact reports whether nothing differs.
func (p *RerunPlan) Exact() bool { return len(p.Differences) == 0 }

// PlanRerun reads the campaign in dir and decides how to recreate it: the
// recorded scenario and topology verbatim, the node image pinned by digest
// (or by local image ID, verified), and every difference from the original
// software, host, images and pins listed. It changes nothing.
func PlanRerun(ctx context.Context, dir string, store ImageStore, o RerunOptions) (*RerunPlan, error) {
	camp, err := resultstore.Read(dir)
	if err != nil {
		return nil, err
	}
	m := camp.Manifest
	p := &RerunPlan{Source: dir, Original: camp, Clusters: m.Lab.Clusters}
	diff := func(format string, a ...any) { p.Differences = append(p.Differences, fmt.Sprintf(format, a...)) }
	for _, in := range m.Inputs {
		switch in.Role {
		case "scenario":
			p.ScenarioDoc = []byte(in.Content)
		case "topology":
			p.TopologyDoc = []byte(in.Content) // the last one: a reprovision cell's resized copy
		}
	}
	if p.ScenarioDoc == nil || p.TopologyDoc == nil {
		return nil, fmt.Errorf("campaign %s: the manifest does not record its scenario and topology verbatim; it cannot be rerun", dir)
	}

	// Software and host.
	cmp := func(what, was, now string) {
		if was != now {
			diff("%s was %s, now %s", what, orNone(was), orNone(now))
		}
	}
	s, n := m.Software, o.Software
	cmp("testbed version", s.Tool, n.Tool)
	cmp("testbed commit", s.Commit, n.Commit)
	cmp("Go", s.Go, n.Go)
	cmp("kind library", s.Kind, n.Kind)
	cmp("Helm SDK", s.Helm, n.Helm)
	cmp("client-go", s.ClientGo, n.ClientGo)
	cmp("Docker engine", s.Docker, n.Docker)
	h, nh := m.Host, o.Host
	cmp("kernel", h.Kernel, nh.Kernel)
	cmp("cgroup mode", h.CgroupMode, nh.CgroupMode)
	cmp("CPU model", h.CPUModel, nh.CPUModel)
	if h.CPUs != nh.CPUs {
		diff("CPU count was %d, now %d", h.CPUs, nh.CPUs)
	}
	if h.MemoryMiB != nh.MemoryMiB {
		diff("memory was %d MiB, now %d MiB", h.MemoryMiB, nh.MemoryMiB)
	}

	// Node image: pin by digest when still on this host.
	pinned, d := pinNodeImage(ctx, store, m.Lab.NodeImage, m.Lab.NodeImageDigest)
	p.NodeImage = pinned
	p.Differences = append(p.Differences, d...)
	if pinned != "" {
		doc, err := setNodeImage(p.TopologyDoc, pinned)
		if err != nil {
			return nil, fmt.Errorf("campaign %s: %w", dir, err)
		}
		p.TopologyDoc = doc
	}

	// The reference agent image is built from the testbed binary.
	for ref := range m.Lab.Images {
		if isAgentImage(ref) && o.AgentImage != "" && ref != o.AgentImage {
			diff("reference agent image was %s, this binary provisions %s (built from a different testbed binary)", ref, o.AgentImage)
		}
	}
	// Other images are checked after the lab is up, by comparing what the
	// runtime reports on both sides (Docker's image ID and the runtime's
	// digest of a loaded image are different hashes).
	// Pins that were already missing in the original.
	for _, w := range m.Warnings {
		if strings.Contains(w, "moving tag") || strings.Contains(w, "no tag") {
			diff("original run: %s", w)
		}
	}
	if m.Ended.IsZero() {
		diff("the original campaign never ended (interrupted): it is compared as recorded")
	}
	return p, nil
}

func isAgentImage(ref string) bool { return strings.Contains(ref, "/reference-agent:") }

// LabDifferences compares what ran, read back from the clusters: node image,
// chart versions and every container image's runtime digest. The reference
// agent image is left out (PlanRerun reports a different binary).
func LabDifferences(was, now results.Lab) []string {
	var out []string
	if was.NodeImageDigest != "" && now.NodeImageDigest != "" && was.NodeImageDigest != now.NodeImageDigest {
		out = append(out, fmt.Sprintf("read back: node image ran as %s, now as %s", was.NodeImageDigest, now.NodeImageDigest))
	}
	for _, k := range sortedKeys(was.Charts) {
		switch v, ok := now.Charts[k]; {
		case !ok:
			out = append(out, fmt.Sprintf("read back: chart %s %s is no longer installed", k, was.Charts[k]))
		case v != was.Charts[k]:
			out = append(out, fmt.Sprintf("read back: chart %s was %s, now %s", k, was.Charts[k], v))
		}
	}
	for _, k := range sortedKeys(now.Charts) {
		if _, ok := was.Charts[k]; !ok {
			out = append(out, fmt.Sprintf("read back: chart %s %s is installed now but was not", k, now.Charts[k]))
		}
	}
	for _, k := range sortedKeys(was.Images) {
		if isAgentImage(k) {
			continue
		}
		switch v, ok := now.Images[k]; {
		case !ok:
			out = append(out, fmt.Sprintf("read back: image %s no longer runs", k))
		case v != was.Images[k]:
			out = append(out, fmt.Sprintf("read back: image %s ran as %s, now as %s", k, was.Images[k], v))
		}
	}
	for _, k := range sortedKeys(now.Images) {
		if _, ok := was.Images[k]; !ok && !isAgentImage(k) {
			out = append(out, fmt.Sprintf("read back: image %s runs now but did not in the original", k))
		}
	}
	if was.Multus != now.Multus {
		out = append(out, fmt.Sprintf("read back: Multus was %s, now %s", orNone(was.Multus), orNone(now.Multus)))
	}
	if was.CNIPlugins != now.CNIPlugins {
		out = append(out, fmt.Sprintf("read back: CNI plugins were %s, now %s", orNone(was.CNIPlugins), orNone(now.CNIPlugins)))
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(unrecorded)"
	}
	return s
}

func hasDigest(ii image.InspectResponse, d string) bool {
	if d == "" {
		return false
	}
	if ii.ID == d {
		return true
	}
	for _, rd := range ii.RepoDigests {
		if provenance.Digest(rd) == d {
			return true
		}
	}
	return false
}

// pinNodeImage returns the reference that runs exactly the recorded node
// image, or "" and why not.
func pinNodeImage(ctx context.Context, store ImageStore, ref, digest string) (string, []string) {
	if ref == "" || digest == "" {
		return "", []string{"the original manifest has no node image digest: the node image cannot be pinned"}
	}
	repo := ref
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		repo = ref[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	// A registry digest: ref@digest pins it, if the image is here (no
	// registry is assumed reachable).
	if ii, err := store.ImageInspect(ctx, repo+"@"+digest); err == nil && hasDigest(ii, digest) {
		return repo + "@" + digest, nil
	}
	// A local image ID: the tag must still point at it.
	ii, err := store.ImageInspect(ctx, ref)
	if err == nil && ii.ID == digest {
		return ref, nil
	}
	if err == nil {
		return "", []string{fmt.Sprintf("node image %s now is %s, not %s, and %s is no longer on this host: the lab runs a different node image", ref, ii.ID, digest, digest)}
	}
	return "", []string{fmt.Sprintf("node image %s (%s) is no longer on this host and no registry is used: the rerun cannot recreate the lab with it", ref, digest)}
}

// setNodeImage pins clusters.nodeImage in a topology document.
func setNodeImage(doc []byte, ref string) ([]byte, error) {
	var t topology.Topology
	if err := yaml.Unmarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("reading the recorded topology: %w", err)
	}
	t.Clusters.NodeImage = ref
	out, err := yaml.Marshal(&t)
	if err != nil {
		return nil, fmt.Errorf("pinning the node image: %w", err)
	}
	return append([]byte("# Recorded topology, node image pinned by testbed rerun.\n"), out...), nil
}

// Rerunner recreates a lab from a RerunPlan, runs the same scenario into a
// new directory and compares the result against the original.
type Rerunner struct {
	Lab       Lab
	Workloads Workloads
	Runner    CellRunner
	Collector Collector
	LoadPlan  func(path string) (*topology.Plan, error)
	Progress  io.Writer
	Now       func() time.Time
}

// RerunResult is a finished rerun.
type RerunResult struct {
	Dir        string
	Comparison *compare.Result
	// Significant are the rows whose verdict is a regression or improvement.
	Significant []string
	// ReadBack are the differences between what ran then and now, read
	// back from the clusters (LabDifferences).
	ReadBack []string
}

// Run executes p into out (resumed if out already holds the rerun's
// campaign). With fresh the lab is torn down first.
func (r *Rerunner) Run(ctx context.Context, p *RerunPlan, out string, fresh bool, co compare.Options) (*RerunResult, error) {
	r.defaults()
	scFile, topoFile, err := writeRerunInputs(p, out)
	if err != nil {
		return nil, err
	}
	sc, plan, err := r.loadRerunInputs(scFile, topoFile)
	if err != nil {
		return nil, err
	}
	if err := r.provision(ctx, plan, fresh); err != nil {
		return nil, err
	}
	cell, err := r.selectOriginalClusters(ctx, p, plan, sc)
	if err != nil {
		return nil, err
	}
	defer r.reenableWorkloads(ctx, plan, sc)
	run, err := r.rerunCell(ctx, p, sc, plan, cell, out, scFile, topoFile)
	if err != nil {
		return nil, err
	}
	if _, err := r.Runner.Run(ctx, run); err != nil {
		return nil, fmt.Errorf("rerun: %w", err)
	}
	return compareRerun(p, out, co)
}

// defaults fills in the Rerunner's optional fields.
func (r *Rerunner) defaults() {
	if r.Progress == nil {
		r.Progress = io.Discard
	}
	if r.LoadPlan == nil {
		r.LoadPlan = LoadPlan
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// writeRerunInputs writes the recorded topology and the recorded scenario,
// pointed at that topology and without its output, into out, and returns
// their paths.
func writeRerunInputs(p *RerunPlan, out string) (scFile, topoFile string, err error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", "", fmt.Errorf("rerun: %w", err)
	}
	topoFile = filepath.Join(out, FileCellTopology)
	scFile = filepath.Join(out, FileCellScenario)
	absTopo, err := filepath.Abs(topoFile)
	if err != nil {
		return "", "", fmt.Errorf("rerun: %w", err)
	}
	var f scenarios.File
	if err := yaml.Unmarshal(p.ScenarioDoc, &f); err != nil {
		return "", "", fmt.Errorf("rerun: reading the recorded scenario: %w", err)
	}
	f.Topology, f.Output = absTopo, ""
	scDoc, err := yaml.Marshal(&f)
	if err != nil {
		return "", "", fmt.Errorf("rerun: %w", err)
	}
	scDoc = append([]byte("# Recorded scenario of "+p.Source+", rerun by testbed rerun.\n"), scDoc...)
	if err := resultstore.WriteFileAtomic(topoFile, p.TopologyDoc); err != nil {
		return "", "", err
	}
	if err := resultstore.WriteFileAtomic(scFile, scDoc); err != nil {
		return "", "", err
	}
	return scFile, topoFile, nil
}

// loadRerunInputs loads the scenario and topology writeRerunInputs wrote.
func (r *Rerunner) loadRerunInputs(scFile, topoFile string) (*scenarios.Scenario, *topology.Plan, error) {
	sc, err := scenarios.Load(scFile)
	if err != nil {
		return nil, nil, fmt.Errorf("rerun: the recorded scenario no longer loads: %w", err)
	}
	plan, err := r.LoadPlan(topoFile)
	if err != nil {
		return nil, nil, fmt.Errorf("rerun: the recorded topology no longer loads: %w", err)
	}
	return sc, plan, nil
}

// provision creates or converges the lab, tearing it down first when fresh.
func (r *Rerunner) provision(ctx context.Context, plan *topology.Plan, fresh bool) error {
	if fresh {
		fmt.Fprintf(r.Progress, "rerun: tearing down lab %s\n", plan.Name)
		if err := r.Lab.Down(ctx, plan); err != nil {
			return fmt.Errorf("rerun: teardown: %w", err)
		}
	}
	fmt.Fprintf(r.Progress, "rerun: creating or converging lab %s (%d clusters)\n", plan.Name, len(plan.Clusters))
	if err := r.Lab.Up(ctx, plan); err != nil {
		return fmt.Errorf("rerun: provisioning: %w", err)
	}
	return nil
}

// selectOriginalClusters enables the protocol on the clusters the original
// ran on (every cluster when unrecorded), disables it elsewhere, and returns
// those clusters.
func (r *Rerunner) selectOriginalClusters(ctx context.Context, p *RerunPlan, plan *topology.Plan, sc *scenarios.Scenario) ([]string, error) {
	cell := p.Clusters
	for _, c := range cell {
		if !slices.Contains(allNames(plan), c) {
			return nil, fmt.Errorf("rerun: the original ran on cluster %q, which the recorded topology does not have", c)
		}
	}
	if len(cell) == 0 {
		cell = allNames(plan)
	}
	if err := r.Workloads.Set(ctx, plan, sc.Protocol, cell, Complement(plan, cell)); err != nil {
		return nil, fmt.Errorf("rerun: selecting the original clusters: %w", err)
	}
	return cell, nil
}

// reenableWorkloads enables the protocol on every cluster again, even when
// ctx is cancelled; a failure is only reported on Progress.
func (r *Rerunner) reenableWorkloads(ctx context.Context, plan *topology.Plan, sc *scenarios.Scenario) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := r.Workloads.Set(rctx, plan, sc.Protocol, allNames(plan), nil); err != nil {
		fmt.Fprintf(r.Progress, "rerun: re-enabling %s everywhere: %v\n", sc.Protocol.Name, err)
	}
}

// rerunCell describes the campaign to run into out: resumed when out holds
// its manifest already, else with a freshly collected manifest that warns
// of every difference from the original.
func (r *Rerunner) rerunCell(ctx context.Context, p *RerunPlan, sc *scenarios.Scenario, plan *topology.Plan, cell []string, out, scFile, topoFile string) (runner.Cell, error) {
	run := runner.Cell{Scenario: sc, Plan: plan, Clusters: cell, Dir: out}
	if _, err := os.Stat(filepath.Join(out, resultstore.FileManifest)); err == nil {
		run.Resume = true
		return run, nil
	}
	var inputs []results.Input
	for _, in := range []struct{ role, path string }{{"scenario", scFile}, {"topology", topoFile}} {
		i, err := readInput(in.role, in.path)
		if err != nil {
			return runner.Cell{}, err
		}
		inputs = append(inputs, i)
	}
	m, err := r.Collector.Collect(ctx, plan, cell, inputs)
	if err != nil {
		return runner.Cell{}, fmt.Errorf("rerun: collecting the manifest: %w", err)
	}
	m.Kind, m.Started = "campaign", r.Now()
	for _, d := range append(slices.Clone(p.Differences), LabDifferences(p.Original.Manifest.Lab, m.Lab)...) {
		m.Warnings = append(m.Warnings, "rerun of "+p.Source+": not exact: "+d)
	}
	run.Manifest = &m
	return run, nil
}

// compareRerun compares the rerun campaign in out against the original,
// writes the comparison to out/compare.json and lists the significant rows.
func compareRerun(p *RerunPlan, out string, co compare.Options) (*RerunResult, error) {
	cand, err := resultstore.Read(out)
	if err != nil {
		return nil, err
	}
	cmp := compare.Campaigns(p.Original, cand, co)
	b, err := json.MarshalIndent(cmp, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rerun: encoding the comparison: %w", err)
	}
	if err := resultstore.WriteFileAtomic(filepath.Join(out, FileCompare), append(b, '\n')); err != nil {
		return nil, err
	}
	res := &RerunResult{Dir: out, Comparison: cmp, ReadBack: LabDifferences(p.Original.Manifest.Lab, cand.Manifest.Lab)}
	for _, row := range cmp.Rows {
		if row.Verdict == compare.VerdictRegression || row.Verdict == compare.VerdictImprovement {
			res.Significant = append(res.Significant, row.String())
		}
	}
	return res, nil
}
