//go:build e2e

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EDemo runs `testbed demo` as a newcomer would (after the CI lab is
// down, so the host holds 3 clusters at most): it must build its lab, run
// the selftest and the campaign, write the report, remove the lab, and
// print the report's path. The report must not overflow a 1300 or 800 px
// window in headless Chromium.
func TestE2EDemo(t *testing.T) {
	bin := e2eBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	out, d, err := testbedRun(t, bin, 20*time.Minute, "demo", "--dir", dir)
	if err != nil {
		t.Fatalf("testbed demo: %v", err)
	}
	t.Logf("MEASURED: testbed demo took %s", d.Round(time.Second))
	html := filepath.Join(dir, "campaign", "report.html")
	if !strings.Contains(out, "report: "+html) || !strings.Contains(out, "demo: step 5/5 down") {
		t.Errorf("demo output lacks the report path or the down step")
	}
	if _, err := os.Stat(html); err != nil {
		t.Fatalf("no report: %v", err)
	}
	assertNoLabDocker(t, e2ePlan(t, filepath.Join(dir, "topology.yaml")))
	checkReportFits(t, html)
}

// checkReportFits opens every folded section of a copy of the report and
// measures, in headless Chromium, that the page is no wider than the window.
func checkReportFits(t *testing.T, html string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: .ci/run installs it")
		}
		t.Skip("chromium not found on PATH (Debian: apt-get install -y chromium)")
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe.html")
	page := strings.Replace(string(b), "</body>", `<script>document.querySelectorAll("details").forEach(d=>d.open=true);`+
		`document.title="W="+document.documentElement.scrollWidth+" V="+window.innerWidth</script></body>`, 1)
	if err := os.WriteFile(probe, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	title := regexp.MustCompile(`<title>W=(\d+) V=(\d+)</title>`)
	for _, width := range []int{1300, 800} {
		dom, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir="+t.TempDir(),
			"--dump-dom", fmt.Sprintf("--window-size=%d,900", width), "file://"+probe).Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		m := title.FindStringSubmatch(string(dom))
		if m == nil {
			t.Fatalf("%d px: no measurement", width)
		}
		sw, _ := strconv.Atoi(m[1])
		vw, _ := strconv.Atoi(m[2])
		t.Logf("MEASURED: demo report at %d px: page %d px, viewport %d px", width, sw, vw)
		if sw > vw {
			t.Errorf("demo report at %d px: page %d px wide, more than the %d px viewport", width, sw, vw)
		}
	}
}
