//go:build integration

package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results"
	"github.com/fluidos-lab/testbed/results/stats"
)

// chromium finds a headless-capable Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found on PATH: install it (Debian: apt-get install -y chromium) to render the report headless"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// headless runs Chromium on a local file and returns stdout and stderr.
func headless(t *testing.T, bin, page string, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// pageProblems returns Chromium log lines that concern the page: console
// messages (any level) and errors naming the page's URL. D-Bus and other
// host noise of a container without a session bus is ignored.
func pageProblems(stderr, page string) []string {
	console := regexp.MustCompile(`:CONSOLE[:(]`)
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if console.MatchString(l) || (strings.Contains(l, ":ERROR:") && strings.Contains(l, "file://"+page)) {
			out = append(out, l)
		}
	}
	return out
}

func TestIntegrationChromiumDetectsConsoleErrors(t *testing.T) {
	bin := chromium(t)
	page := filepath.Join(t.TempDir(), "bad.html")
	os.WriteFile(page, []byte(`<!DOCTYPE html><html><body><h1>x</h1><script>console.error("boom")</script></body></html>`), 0o644)
	_, stderr := headless(t, bin, page, "--dump-dom")
	if p := pageProblems(stderr, page); len(p) == 0 || !strings.Contains(p[0], "boom") {
		t.Fatalf("console error not detected; problems %q", p)
	}
}

func TestIntegrationReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	c := stats.Synthesize(stats.SynthOptions{Seed: 11, Peers: 23, Runs: 40, Warmup: 2, LossPcts: []float64{0, 10, 25},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 300, AgentInitMS: 150, TimeoutMS: 60000, FlapProb: 0.02})
	c.Dir = dir
	files, err := Write(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dom, stderr := headless(t, bin, files.HTML, "--dump-dom")
	for _, want := range []string{"Discovery campaign synthetic", "Summary per condition", "Plots across conditions",
		"Model comparison", "Condition loss-0", "Condition loss-10", "Condition loss-25", "random phase"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<svg"); n != 2+3*3 {
		t.Errorf("rendered DOM has %d svg elements, want 11", n)
	}
	if p := pageProblems(stderr, files.HTML); len(p) > 0 {
		t.Errorf("page logged problems:\n%s", strings.Join(p, "\n"))
	}
	shot := filepath.Join(dir, "report.png")
	headless(t, bin, files.HTML, "--screenshot="+shot, "--window-size=1280,4000")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if img.Bounds().Dx() != 1280 {
		t.Errorf("screenshot is %v", img.Bounds())
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(b))
}

// TestIntegrationReportFitsWindow: at 1300 px and at 800 px the report
// never scrolls sideways: wide tables scroll inside their own box. The
// page is measured, with every folded section opened, by a copy of it with
// one script that writes the document's scroll width and the window's
// width into the title.
func TestIntegrationReportFitsWindow(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	c := stats.Synthesize(stats.SynthOptions{Seed: 11, Peers: 23, Runs: 40, Warmup: 2, LossPcts: []float64{0, 25},
		IntervalMS: 5000, StartupMS: 900, StartupJitterMS: 300, TimeoutMS: 60000, FlapProb: 0.02})
	c.Dir = dir
	// A manifest as long as a real one: digests, image references, a
	// kernel string, input paths.
	digest := "sha256:" + strings.Repeat("0e1de0ec2667a1b2", 4)
	m := &c.Manifest
	m.Software = results.Software{Tool: "testbed v0.3.0-41-g446e2e1-dirty", Commit: strings.Repeat("446e2e1f", 5), Go: "go1.26.8 linux/amd64",
		Kind: "sigs.k8s.io/kind v0.33.0", Helm: "helm.sh/helm/v3 v3.19.5", ClientGo: "k8s.io/client-go v0.34.2", Docker: "20.10.24+dfsg1 (API 1.41)"}
	m.Host = results.Host{Kernel: "Linux 6.12.48+deb13-cloud-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.12.48-1 (2025-09-20) x86_64", CgroupMode: "v2",
		CPUModel: "Intel(R) Xeon(R) Platinum 8488C @ 2.40GHz", CPUs: 2, MemoryMiB: 24000, ImpairmentBackend: "nftables"}
	m.Lab = results.Lab{Topology: "topology/ci-3-nodes.yaml", Clusters: []string{"ci-01", "ci-02", "ci-03"},
		NodeImage: "testbed.local/kind-node:v1.34.2-0e1de0ec2667", NodeImageDigest: digest,
		Charts: map[string]string{"reference-agent": "0.1.0", "multus": "4.2.2-testbed.1"},
		Images: map[string]string{"ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2-thick-amd64-with-a-long-suffix": digest,
			"testbed.local/reference-agent:v0.3.0-41-g446e2e1-dirty": digest}, Multus: "v4.2.2", CNIPlugins: "v1.6.2"}
	m.Inputs = []results.Input{{Role: "scenario", Path: "/home/researcher/experiments/fluidos/discovery/scenarios/selftest-with-a-long-name.yaml",
		SHA256: strings.Repeat("ab", 32), Content: "apiVersion: testbed.dev/v1alpha1\nkind: Scenario\n" + strings.Repeat("# a long comment line in the scenario file ", 8)}}
	files, err := Write(context.Background(), c, Options{NoPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	probe := strings.Replace(string(html), "</body>",
		`<script>document.querySelectorAll("details").forEach(d=>d.open=true);document.title="W="+document.documentElement.scrollWidth+" V="+window.innerWidth</script></body>`, 1)
	page := filepath.Join(dir, "probe.html")
	if err := os.WriteFile(page, []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	title := regexp.MustCompile(`<title>W=(\d+) V=(\d+)</title>`)
	for _, width := range []int{1300, 800} {
		dom, _ := headless(t, bin, page, "--dump-dom", fmt.Sprintf("--window-size=%d,900", width))
		m := title.FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("%d px: no measurement in the title", width)
		}
		sw, _ := strconv.Atoi(m[1])
		vw, _ := strconv.Atoi(m[2])
		t.Logf("MEASURED: window %d px: page scroll width %d px, viewport %d px", width, sw, vw)
		if sw > vw {
			t.Errorf("%d px window: the page is %d px wide, more than the %d px viewport (horizontal overflow)", width, sw, vw)
		}
	}
}
