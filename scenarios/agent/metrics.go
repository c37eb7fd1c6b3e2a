package agent

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Metrics are the agent's counters and gauges, exported in the Prometheus
// text format by WriteTo. The zero value is ready to use.
type Metrics struct {
	AnnouncementsSent atomic.Int64
	GoodbyesSent      atomic.Int64
	SendErrors        atomic.Int64
	PacketsReceived   atomic.Int64
	PacketsMalformed  atomic.Int64
	PacketsOversized  atomic.Int64
	PacketsOwn        atomic.Int64
	PacketsForeign    atomic.Int64
	ReceiveErrors     atomic.Int64
	GoodbyesReceived  atomic.Int64
	PeersDiscovered   atomic.Int64
	PeersExpired      atomic.Int64
	PeersRejected     atomic.Int64
	PeersPresent      atomic.Int64
	PeerTableSize     atomic.Int64

	APIWrites       [numOps]atomic.Int64
	APIErrors       [numOps]atomic.Int64
	APIPendingRetry atomic.Int64
}

type op int

const (
	opCreate op = iota
	opUpdate
	opDelete
	opPurge
	numOps
)

var opNames = [numOps]string{"create", "update", "delete", "purge"}

// APIErrorsTotal is the sum of API errors over every operation.
func (m *Metrics) APIErrorsTotal() int64 {
	var n int64
	for i := range m.APIErrors {
		n += m.APIErrors[i].Load()
	}
	return n
}

// WriteTo writes the metrics, plus process CPU and memory, in the Prometheus
// text exposition format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	counter := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, v)
	}
	counter("testbed_agent_announcements_sent_total", "Announcements sent.", m.AnnouncementsSent.Load())
	counter("testbed_agent_goodbyes_sent_total", "Goodbye packets sent.", m.GoodbyesSent.Load())
	counter("testbed_agent_send_errors_total", "Failed sends (the announce loop keeps going).", m.SendErrors.Load())
	counter("testbed_agent_packets_received_total", "Packets read from the socket.", m.PacketsReceived.Load())
	counter("testbed_agent_packets_malformed_total", "Packets dropped because they did not decode.", m.PacketsMalformed.Load())
	counter("testbed_agent_packets_oversized_total", "Packets dropped because they exceeded the size cap.", m.PacketsOversized.Load())
	counter("testbed_agent_packets_own_total", "Packets from this agent's own cluster (ignored).", m.PacketsOwn.Load())
	counter("testbed_agent_packets_foreign_group_total", "Packets from agents sharing no group (ignored).", m.PacketsForeign.Load())
	counter("testbed_agent_receive_errors_total", "Socket read errors (the receive loop keeps going).", m.ReceiveErrors.Load())
	counter("testbed_agent_goodbyes_received_total", "Goodbyes that removed a peer.", m.GoodbyesReceived.Load())
	counter("testbed_agent_peers_discovered_total", "First announcements of a peer (including re-discoveries).", m.PeersDiscovered.Load())
	counter("testbed_agent_peers_expired_total", "Peers removed by housekeeping after their TTL.", m.PeersExpired.Load())
	counter("testbed_agent_peers_rejected_total", "New peers refused because the peer table was full.", m.PeersRejected.Load())
	gauge("testbed_agent_peers", "Live peers.", strconv.FormatInt(m.PeersPresent.Load(), 10))
	gauge("testbed_agent_peer_table_entries", "Entries in the peer table (live or pending deletion).", strconv.FormatInt(m.PeerTableSize.Load(), 10))
	gauge("testbed_agent_api_pending_retries", "Peer objects waiting for an API retry.", strconv.FormatInt(m.APIPendingRetry.Load(), 10))
	fmt.Fprintf(&b, "# HELP testbed_agent_api_writes_total Successful API writes by operation.\n# TYPE testbed_agent_api_writes_total counter\n")
	for i := range numOps {
		fmt.Fprintf(&b, "testbed_agent_api_writes_total{op=%q} %d\n", opNames[i], m.APIWrites[i].Load())
	}
	fmt.Fprintf(&b, "# HELP testbed_agent_api_errors_total Failed API calls by operation; each is retried with backoff.\n# TYPE testbed_agent_api_errors_total counter\n")
	for i := range numOps {
		fmt.Fprintf(&b, "testbed_agent_api_errors_total{op=%q} %d\n", opNames[i], m.APIErrors[i].Load())
	}
	writeProcessMetrics(&b)
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func writeProcessMetrics(b *strings.Builder) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		fmt.Fprintf(b, "# HELP process_cpu_seconds_total User and system CPU time.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", cpu)
	}
	if rss, ok := residentBytes(); ok {
		fmt.Fprintf(b, "# HELP process_resident_memory_bytes Resident set size.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", rss)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(b, "# HELP go_memstats_heap_inuse_bytes Heap bytes in use.\n# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes %d\n", ms.HeapInuse)
	fmt.Fprintf(b, "# HELP go_goroutines Goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
}

// residentBytes reads VmRSS from /proc/self/status (Linux only).
func residentBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024, true
				}
			}
		}
	}
	return 0, false
}
