package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerMetricsAndHealth(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(t0)
	a, err := New(testConfig("node-01"), (&bus{}).join(), NewMemoryStore(), WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(a))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	// Not running yet: unhealthy, naming the dead loops.
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "announce loop is not running") {
		t.Fatalf("/healthz before Run = %d %q", code, body)
	}
	a.HandleMessage(announce("node-02", 1), clk.Now())
	a.Metrics().PacketsMalformed.Add(3)
	code, body := get("/metrics")
	for _, want := range []string{
		"testbed_agent_packets_malformed_total 3",
		"testbed_agent_peers 1",
		`testbed_agent_api_errors_total{op="create"} 0`,
		"process_resident_memory_bytes ",
		"# TYPE testbed_agent_peers_discovered_total counter",
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics = %d, lacks %q:\n%s", code, want, body)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	clk.BlockUntil(2) // announce and housekeeping timers armed
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while running = %d %q", code, body)
	}
	// A stuck announce loop (no announcement for > 3 intervals) is unhealthy.
	a.lastAnnounce.Store(clk.Now().Add(-time.Minute).UnixNano())
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "last announcement") {
		t.Fatalf("/healthz with a stale announcement = %d %q", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
