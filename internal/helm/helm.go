package helm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/fluidos-lab/testbed/topology"
)

// Installer is the seam provisioning uses to put charts on a cluster.
type Installer interface {
	// Apply installs or upgrades c on the cluster behind kubeconfig. It is a
	// no-op (Changed=false) when the deployed chart and values already match.
	Apply(ctx context.Context, kubeconfig string, c topology.ChartPlan) (Release, error)
	// List returns every release on the cluster, in all namespaces.
	List(ctx context.Context, kubeconfig string) ([]Release, error)
	// Uninstall removes a release; a missing release is not an error.
	Uninstall(ctx context.Context, kubeconfig, namespace, release string) error
}

// Release describes one deployed Helm release.
type Release struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Chart      string `json:"chart"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
	Status     string `json:"status"`
	Revision   int    `json:"revision"`
	// Changed is true when Apply installed or upgraded the release.
	Changed bool `json:"changed"`
}

var _ Installer = (*SDK)(nil)

// ConfigFactory builds the action.Configuration for one cluster and namespace.
// digest identifies the kubeconfig's content (empty if unreadable).
// The default reads the cluster's kubeconfig file and stores releases as
// Secrets; tests inject in-memory storage and a fake kube client.
type ConfigFactory func(kubeconfig, namespace, digest string) (*action.Configuration, error)

// Logf receives the Helm SDK's debug output.
type Logf func(format string, args ...any)

// SDK implements Installer with the Helm SDK.
type SDK struct {
	timeout    time.Duration
	cacheDir   string
	maxHistory int
	logf       Logf
	factory    ConfigFactory
	getters    func() getter.Providers
	builtins   map[string]fs.FS
	qps        float32
	burst      int

	mu      sync.Mutex // guards configs; also serialises Configuration.Init (helm #9089)
	configs map[configKey]*action.Configuration
}

// configKey includes a digest of the kubeconfig's content: a cluster that
// was deleted and re-created under the same path (up --recreate) gets a new
// API server port and CA, so it must not reuse the old client.
type configKey struct{ kubeconfig, namespace, digest string }

// Option configures an SDK.
type Option func(*SDK)

// WithTimeout bounds each install/upgrade/uninstall including its wait (default 5m).
func WithTimeout(d time.Duration) Option { return func(s *SDK) { s.timeout = d } }

// WithCacheDir sets where repository charts are downloaded and cached
// (default <state root>/cache/charts).
func WithCacheDir(dir string) Option { return func(s *SDK) { s.cacheDir = dir } }

// WithLogger receives the Helm SDK's debug lines (default: discarded).
func WithLogger(l Logf) Option { return func(s *SDK) { s.logf = l } }

// WithRateLimit sets the client rate limit of Helm's Kubernetes clients
// (the composition root passes internal/kubeclient's policy).
func WithRateLimit(qps float32, burst int) Option {
	return func(s *SDK) { s.qps, s.burst = qps, burst }
}

// WithMaxHistory bounds the revisions kept per release (default 5).
func WithMaxHistory(n int) Option { return func(s *SDK) { s.maxHistory = n } }

// WithConfigFactory replaces how action.Configurations are built (tests).
func WithConfigFactory(f ConfigFactory) Option { return func(s *SDK) { s.factory = f } }

// WithBuiltinChart registers an embedded chart, addressed in a ChartPlan as
// Chart "builtin:<name>". The Multus chart is registered by default.
func WithBuiltinChart(name string, fsys fs.FS) Option {
	return func(s *SDK) { s.builtins[name] = fsys }
}

// New returns an SDK installer.
func New(opts ...Option) *SDK {
	s := &SDK{
		timeout:    5 * time.Minute,
		cacheDir:   filepath.Join(StateRoot(), "cache", "charts"),
		maxHistory: 5,
		logf:       func(string, ...any) {},
		builtins:   map[string]fs.FS{},
		configs:    map[configKey]*action.Configuration{},
	}
	s.builtins[MultusChartName] = multusChartFS()
	s.factory = s.kubeConfigFactory
	s.getters = func() getter.Providers { return getter.All(cli.New()) }
	for _, o := range opts {
		o(s)
	}
	return s
}

// StateRoot is TESTBED_STATE_DIR, else ${XDG_STATE_HOME:-$HOME/.local/state}/testbed.
func StateRoot() string {
	if d := os.Getenv("TESTBED_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "testbed")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "testbed")
	}
	return filepath.Join(home, ".local", "state", "testbed")
}

func (s *SDK) kubeConfigFactory(kubeconfig, namespace, digest string) (*action.Configuration, error) {
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	ns := namespace
	flags.Namespace = &ns
	// Discovery is cached on disk per API server host:port; KinD reuses
	// ports across re-created clusters, so key the cache by the
	// kubeconfig's content instead of sharing ~/.kube/cache.
	cacheDir := filepath.Join(filepath.Dir(s.cacheDir), "discovery", digest)
	flags.CacheDir = &cacheDir
	if s.qps > 0 {
		flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
			c.QPS, c.Burst = s.qps, s.burst
			return c
		}
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", action.DebugLog(s.logf)); err != nil {
		return nil, err
	}
	cfg.KubeClient = withCRDWatch(cfg.KubeClient)
	return cfg, nil
}

// config returns the cached Configuration for (kubeconfig, namespace),
// creating it under the mutex: Init is not safe for concurrent use.
func (s *SDK) config(kubeconfig, namespace string) (*action.Configuration, error) {
	digest := ""
	if b, err := os.ReadFile(kubeconfig); err == nil {
		sum := sha256.Sum256(b)
		digest = hex.EncodeToString(sum[:8])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := configKey{kubeconfig, namespace, digest}
	if cfg, ok := s.configs[k]; ok {
		return cfg, nil
	}
	cfg, err := s.factory(kubeconfig, namespace, digest)
	if err != nil {
		return nil, fmt.Errorf("helm configuration for %s (namespace %q): %w", kubeconfig, namespace, err)
	}
	s.configs[k] = cfg
	return cfg, nil
}

// Apply implements Installer.
func (s *SDK) Apply(ctx context.Context, kubeconfig string, c topology.ChartPlan) (Release, error) {
	wrap := func(err error) error {
		return fmt.Errorf("release %s/%s on %s: %w", c.Namespace, c.Release, kubeconfig, err)
	}
	if c.Release == "" || c.Namespace == "" {
		return Release{}, wrap(errors.New("chart plan needs a release name and a namespace"))
	}
	if err := ctx.Err(); err != nil {
		return Release{}, wrap(err)
	}
	chrt, vals, err := s.prepare(ctx, c)
	if err != nil {
		return Release{}, wrap(err)
	}
	cfg, err := s.config(kubeconfig, c.Namespace)
	if err != nil {
		return Release{}, wrap(err)
	}
	last, err := lastRelease(cfg, c.Release)
	if err != nil {
		return Release{}, wrap(err)
	}
	if last != nil && last.Info.Status == release.StatusDeployed && upToDate(last, chrt, vals) {
		return toRelease(last, false), nil
	}
	if last != nil {
		if last, err = s.recoverRelease(cfg, c.Release, last); err != nil {
			return Release{}, wrap(err)
		}
	}
	rel, err := s.deploy(ctx, cfg, c, chrt, vals, last)
	if err != nil {
		return Release{}, wrap(err)
	}
	return toRelease(rel, true), nil
}

// prepare loads c's chart and its normalised values, without the testbed
// block when the chart's values schema rejects it.
func (s *SDK) prepare(ctx context.Context, c topology.ChartPlan) (*chart.Chart, map[string]any, error) {
	chrt, err := s.loadChart(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	vals, err := normalizeValues(c.Values)
	if err != nil {
		return nil, nil, fmt.Errorf("values: %w", err)
	}
	if v, dropped := fitSchema(chrt, vals); dropped {
		s.logf("release %s: chart %s's values schema rejects the %q block; installing without it", c.Release, chrt.Name(), TestbedKey)
		vals = v
	}
	return chrt, vals, nil
}

// lastRelease is the release's latest revision, nil when it has none.
func lastRelease(cfg *action.Configuration, name string) (*release.Release, error) {
	last, err := cfg.Releases.Last(name)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading release history: %w", err)
	}
	return last, nil
}

// recoverRelease clears what an interrupted operation left behind on the
// latest revision last. It returns nil when the release must be installed
// afresh, else the revision to upgrade.
func (s *SDK) recoverRelease(cfg *action.Configuration, name string, last *release.Release) (*release.Release, error) {
	switch st := last.Info.Status; {
	case st == release.StatusPendingInstall || (st == release.StatusFailed && !hasDeployed(cfg, name)):
		// Never fully installed (e.g. Ctrl-C during install): start over
		// so pre-install hooks run again.
		s.logf("release %s: status %s with no deployed revision; reinstalling", name, st)
		if err := s.uninstall(cfg, name); err != nil {
			return nil, fmt.Errorf("removing incomplete install: %w", err)
		}
		return nil, nil
	case st.IsPending():
		// An interrupted upgrade/rollback leaves a pending lock; mark it
		// failed so the upgrade below can proceed.
		last.SetStatus(release.StatusFailed, "interrupted; superseded by testbed")
		if err := cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("clearing pending status: %w", err)
		}
	}
	return last, nil
}

// deploy installs the chart when there is no revision to upgrade (last is
// nil), else upgrades the release.
func (s *SDK) deploy(ctx context.Context, cfg *action.Configuration, c topology.ChartPlan, chrt *chart.Chart, vals map[string]any, last *release.Release) (*release.Release, error) {
	if last == nil {
		rel, err := s.install(ctx, cfg, c, chrt, vals)
		if err != nil {
			return nil, fmt.Errorf("install: %w", err)
		}
		return rel, nil
	}
	return s.upgrade(ctx, cfg, c, chrt, vals)
}

// upgrade upgrades the release in place, or replaces it when the upgrade
// hits an immutable field.
func (s *SDK) upgrade(ctx context.Context, cfg *action.Configuration, c topology.ChartPlan, chrt *chart.Chart, vals map[string]any) (*release.Release, error) {
	up := action.NewUpgrade(cfg)
	up.Namespace = c.Namespace
	up.Wait = !c.SkipWait
	up.WaitForJobs = !c.SkipWait
	up.Timeout = s.timeout
	up.MaxHistory = s.maxHistory
	rel, err := up.RunWithContext(ctx, c.Release, chrt, vals)
	if err != nil && isImmutable(err) && ctx.Err() == nil {
		// e.g. the FLUIDOS DaemonSet selector carries the chart version
		// and image tag, so a version change cannot be applied in place:
		// replace the release (its pre-install hooks run again).
		s.logf("release %s: upgrade hit an immutable field (%v); reinstalling", c.Release, err)
		if uerr := s.uninstall(cfg, c.Release); uerr != nil {
			return nil, fmt.Errorf("upgrade: %w; removing for reinstall: %w", err, uerr)
		}
		rel, err = s.install(ctx, cfg, c, chrt, vals)
		if err != nil {
			return nil, fmt.Errorf("reinstall after immutable upgrade: %w", err)
		}
		return rel, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	return rel, nil
}

func (s *SDK) install(ctx context.Context, cfg *action.Configuration, c topology.ChartPlan, chrt *chart.Chart, vals map[string]any) (*release.Release, error) {
	in := action.NewInstall(cfg)
	in.ReleaseName = c.Release
	in.Namespace = c.Namespace
	in.CreateNamespace = true
	in.Wait = !c.SkipWait
	in.WaitForJobs = !c.SkipWait
	in.Timeout = s.timeout
	return in.RunWithContext(ctx, chrt, vals)
}

// isImmutable reports an API server rejection of a change to an immutable
// field (such as a workload's selector).
func isImmutable(err error) bool {
	return strings.Contains(err.Error(), "field is immutable")
}

func hasDeployed(cfg *action.Configuration, name string) bool {
	_, err := cfg.Releases.Deployed(name)
	return err == nil
}

func (s *SDK) uninstall(cfg *action.Configuration, name string) error {
	un := action.NewUninstall(cfg)
	un.Wait = true
	un.Timeout = s.timeout
	_, err := un.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil
	}
	return err
}

// List implements Installer.
func (s *SDK) List(ctx context.Context, kubeconfig string) ([]Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing releases on %s: %w", kubeconfig, err)
	}
	cfg, err := s.config(kubeconfig, "")
	if err != nil {
		return nil, fmt.Errorf("listing releases on %s: %w", kubeconfig, err)
	}
	l := action.NewList(cfg)
	l.AllNamespaces = true
	l.StateMask = action.ListAll
	rels, err := l.Run()
	if err != nil {
		return nil, fmt.Errorf("listing releases on %s: %w", kubeconfig, err)
	}
	out := make([]Release, 0, len(rels))
	for _, r := range rels {
		out = append(out, toRelease(r, false))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Uninstall implements Installer.
func (s *SDK) Uninstall(ctx context.Context, kubeconfig, namespace, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("uninstalling %s/%s on %s: %w", namespace, name, kubeconfig, err)
	}
	cfg, err := s.config(kubeconfig, namespace)
	if err != nil {
		return fmt.Errorf("uninstalling %s/%s on %s: %w", namespace, name, kubeconfig, err)
	}
	if err := s.uninstall(cfg, name); err != nil {
		return fmt.Errorf("uninstalling %s/%s on %s: %w", namespace, name, kubeconfig, err)
	}
	return nil
}

func toRelease(r *release.Release, changed bool) Release {
	out := Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version, Changed: changed}
	if r.Info != nil {
		out.Status = r.Info.Status.String()
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.Chart = r.Chart.Metadata.Name
		out.Version = r.Chart.Metadata.Version
		out.AppVersion = r.Chart.Metadata.AppVersion
	}
	return out
}
