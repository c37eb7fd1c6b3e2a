//go:build integration

package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
