package capacity

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker/docker/api/types/container"
)

// StatsAPI is the part of the Docker client DockerStats uses.
type StatsAPI interface {
	ContainerStatsOneShot(ctx context.Context, id string) (container.StatsResponseReader, error)
}

// DockerStats reads a container's counters through the Docker engine.
type DockerStats struct{ API StatsAPI }

var _ Stats = DockerStats{}

// Sample returns the container's cumulative CPU time, its memory usage
// minus the inactive page cache (cgroup v2 inactive_file, v1
// total_inactive_file), the figure docker stats prints, and its anonymous
// memory (v2 anon, v1 total_rss).
func (d DockerStats) Sample(ctx context.Context, id string) (Sample, error) {
	r, err := d.API.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return Sample{}, err
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		return Sample{}, fmt.Errorf("decoding stats: %w", err)
	}
	mem := s.MemoryStats.Usage
	inactive := s.MemoryStats.Stats["inactive_file"]
	if v, ok := s.MemoryStats.Stats["total_inactive_file"]; ok {
		inactive = v
	}
	if inactive < mem {
		mem -= inactive
	}
	anon, ok := s.MemoryStats.Stats["anon"] // cgroup v2
	if !ok {
		anon = s.MemoryStats.Stats["total_rss"] // cgroup v1
	}
	return Sample{CPUNanos: s.CPUStats.CPUUsage.TotalUsage, MemoryBytes: mem, AnonBytes: anon}, nil
}
