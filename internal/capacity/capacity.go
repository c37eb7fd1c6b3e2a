// Package capacity measures what one cluster of a lab costs on this host
// and predicts the largest lab the host holds, naming the limit that binds
// first: memory, CPU at idle, inotify instances and watches, kernel keys,
// the host's neighbour (ARP) table, or the ports of a Linux bridge.
//
// Costs are measured on a running lab (Measure) and recorded per node
// profile in one file under the state root (Save, Load), so doctor and plan
// predict from this host's figures instead of constants.
package capacity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// FileName is the costs file under the state root.
const FileName = "host-costs.json"

// Costs are one node profile's per-cluster costs, measured on this host.
type Costs struct {
	Profile string `json:"profile"`
	// Source is "measured" (Measure on a lab) or "estimate" (built-in).
	Source     string    `json:"source"`
	Lab        string    `json:"lab,omitempty"`
	Clusters   int       `json:"clusters"`
	Nodes      int       `json:"nodes"` // node containers of the measured lab
	MeasuredAt time.Time `json:"measuredAt,omitzero"`
	WindowS    float64   `json:"windowSeconds,omitempty"`
	// During is what the lab did while measured: "doctor" (whatever runs
	// on it, usually idle agents) or "campaign" (a run cycling node A).
	During string `json:"during,omitempty"`

	// Per cluster (mean over the lab's clusters).
	// MemoryMiB is anonymous memory (cgroup anon / total_rss): what each
	// more cluster adds. Page cache of the node image's files is shared by
	// every node of the same image and reclaimable, so the working set
	// docker stats shows (WorkingSetMiB) overstates a cluster's share as
	// the lab grows (measured: 538 MiB at 3 clusters, 891 at 12, while
	// the host's used memory grew by about 560 MiB a cluster).
	MemoryMiB        float64 `json:"memoryMiB"`
	MemoryMaxMiB     float64 `json:"memoryMaxMiB"`
	WorkingSetMiB    float64 `json:"workingSetMiB"` // usage minus inactive page cache, as docker stats shows
	CPUCores         float64 `json:"cpuCores"`      // mean over the window
	CPUMaxCores      float64 `json:"cpuMaxCores"`
	InotifyInstances float64 `json:"inotifyInstances"`
	InotifyWatches   float64 `json:"inotifyWatches"`
	// Keys is root's kernel keys (key-users qnkeys) divided by the clusters:
	// an upper bound, as it counts the host's own keys too.
	Keys float64 `json:"keys"`
	// Neighbours is the host's neighbour entries on the lab bridge per cluster.
	Neighbours float64 `json:"neighbours"`
	// BridgePorts is the lab bridge's ports per cluster (one per node).
	BridgePorts float64 `json:"bridgePorts"`
}

// Estimate is what a cluster of nodes node containers costs when nothing
// was measured on this host: a stock single-node cluster running the
// reference agent on a 2-core, 24 GiB host (scripts/scale-bench.sh,
// docs/scale.md: 637 MiB working set, about 470 MiB of it anonymous, 0.173
// core, 27 inotify instances, 349 watches, 32 keys), rounded up and scaled
// per node.
func Estimate(profile string, nodes float64) Costs {
	if nodes < 1 {
		nodes = 1
	}
	return Costs{
		Profile: profile, Source: "estimate",
		MemoryMiB: 500 * nodes, MemoryMaxMiB: 700 * nodes, WorkingSetMiB: 650 * nodes,
		CPUCores: 0.18 * nodes, CPUMaxCores: 0.5 * nodes,
		InotifyInstances: 27 * nodes, InotifyWatches: 350 * nodes,
		Keys: 32 * nodes, Neighbours: nodes, BridgePorts: nodes,
	}
}

// File is the costs file: the latest measurement per profile.
type File struct {
	Profiles map[string]Costs `json:"profiles"`
}

// Load reads the costs file under root; a missing file is an empty File.
func Load(root string) (File, error) {
	path := filepath.Join(root, FileName)
	f := File{Profiles: map[string]Costs{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > 1<<20 {
		return f, fmt.Errorf("%s: %d bytes, more than a costs file holds (1 MiB); delete it to measure again", path, len(b))
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return File{Profiles: map[string]Costs{}}, fmt.Errorf("%s: %w (delete it to measure again)", path, err)
	}
	if f.Profiles == nil {
		f.Profiles = map[string]Costs{}
	}
	for k, c := range f.Profiles {
		if !c.valid() {
			return File{Profiles: map[string]Costs{}}, fmt.Errorf("%s: profile %q has a negative, non-finite or zero cost (delete the file to measure again)", path, k)
		}
	}
	return f, nil
}

func (c Costs) valid() bool {
	for _, v := range []float64{c.MemoryMiB, c.CPUCores, c.InotifyInstances, c.InotifyWatches, c.Keys, c.Neighbours, c.BridgePorts} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return c.MemoryMiB > 0 && c.CPUCores > 0
}

// Save records c as its profile's latest measurement, atomically.
func Save(root string, c Costs) error {
	f, err := Load(root)
	if err != nil {
		f = File{Profiles: map[string]Costs{}} // a corrupt file is replaced
	}
	f.Profiles[c.Profile] = c
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("state root %s: %w", root, err)
	}
	tmp, err := os.CreateTemp(root, FileName+".*")
	if err != nil {
		return fmt.Errorf("writing costs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	return os.Rename(tmp.Name(), filepath.Join(root, FileName))
}

// For returns the recorded costs of profile, or the estimate for clusters
// of nodes node containers.
func (f File) For(profile string, nodes float64) Costs {
	if c, ok := f.Profiles[profile]; ok && c.valid() {
		return c
	}
	return Estimate(profile, nodes)
}

// Host is what this host offers the lab.
type Host struct {
	MemoryMiB        int64 // MemTotal
	CPUs             int
	InotifyInstances int64 // fs.inotify.max_user_instances
	InotifyWatches   int64 // fs.inotify.max_user_watches
	RootMaxKeys      int64 // kernel.keys.root_maxkeys
	GCThresh3        int64 // net.ipv4.neigh.default.gc_thresh3
}

// Reserves are what the lab leaves to the host, the runner and the
// campaign's own load.
const (
	ReserveMemoryMiB = 2048
	CPUShareForIdle  = 0.75 // of the cores, for clusters sitting idle
	BridgeMaxPorts   = 1024 // BR_MAX_PORTS in the Linux bridge
)

// Bound is one limit and how many clusters it admits.
type Bound struct {
	Limit      string  `json:"limit"`
	Available  float64 `json:"available"`
	PerCluster float64 `json:"perCluster"`
	Clusters   int     `json:"clusters"`
	Fix        string  `json:"fix"`
}

// Bounds returns every limit's admitted cluster count, the binding one
// first. A limit the host does not report (0) is left out.
func Bounds(c Costs, h Host) []Bound {
	var out []Bound
	add := func(limit string, avail, per float64, fix string) {
		if avail <= 0 || per <= 0 {
			return
		}
		out = append(out, Bound{Limit: limit, Available: avail, PerCluster: per, Clusters: int(math.Floor(avail / per)), Fix: fix})
	}
	lean := ", or clusters.profile: lean"
	if c.Profile == "lean" {
		lean = ", or the lab over several hosts"
	}
	add("memory (MiB)", float64(h.MemoryMiB-ReserveMemoryMiB), c.MemoryMiB, "more memory"+lean)
	add("CPU at idle (cores)", float64(h.CPUs)*CPUShareForIdle, c.CPUCores, "more cores"+lean)
	add("inotify instances", float64(h.InotifyInstances), c.InotifyInstances,
		"sysctl -w fs.inotify.max_user_instances=8192")
	add("inotify watches", float64(h.InotifyWatches), c.InotifyWatches,
		"sysctl -w fs.inotify.max_user_watches=1048576")
	add("kernel keys (root)", float64(h.RootMaxKeys), c.Keys,
		"sysctl -w kernel.keys.root_maxkeys=1000000")
	add("neighbour table (gc_thresh3)", float64(h.GCThresh3), c.Neighbours,
		"sysctl -w net.ipv4.neigh.default.gc_thresh3=8192")
	add("bridge ports", BridgeMaxPorts, c.BridgePorts,
		"split the lab over several hosts (one bridge holds 1024 ports)")
	sort.SliceStable(out, func(i, j int) bool { return out[i].Clusters < out[j].Clusters })
	return out
}
