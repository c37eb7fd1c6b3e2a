package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/fluidos-lab/testbed/topology"
)

// NetworkEnv is the variable KinD reads to pick the Docker network.
const NetworkEnv = "KIND_EXPERIMENTAL_DOCKER_NETWORK"

// UseNetwork points every KinD create of this process at the lab network.
// Call it once, before any create starts: KinD reads the environment.
func UseNetwork(name string) error {
	if cur, ok := os.LookupEnv(NetworkEnv); ok && cur == name {
		return nil
	}
	if err := os.Setenv(NetworkEnv, name); err != nil {
		return fmt.Errorf("setting %s: %w", NetworkEnv, err)
	}
	return nil
}

// Config builds the in-memory KinD configuration of one cluster.
func Config(c topology.ClusterPlan) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     c.Name,
		Networking: v1alpha4.Networking{
			PodSubnet:     c.PodSubnet,
			ServiceSubnet: c.ServiceSubnet,
			// On a host of a multi-host lab the API server is published on
			// the host's underlay address (kind adds it to the certificate's
			// SANs and the kubeconfig), at a port fixed by the plan: kind
			// would pick a free port on the machine running it, not the host.
			APIServerAddress: c.APIServerAddress,
			APIServerPort:    int32(c.APIServerPort),
		},
	}
	for _, n := range c.Nodes {
		role := v1alpha4.ControlPlaneRole
		if n.Role == string(v1alpha4.WorkerRole) {
			role = v1alpha4.WorkerRole
		}
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: role, Image: c.NodeImage, Labels: profileLabel(c.Profile)})
	}
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: c.NodeImage, Labels: profileLabel(c.Profile)}}
	}
	applyProfile(cfg, c.Profile, c.KubeadmPatches, c.NodeImage)
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

// Kind creates and deletes clusters through KinD's docker provider.
type Kind struct {
	// WaitForReady bounds KinD's wait for the control plane (default 5m).
	WaitForReady time.Duration
	// NoWait returns as soon as kubeadm and KinD's CNI are done, before the
	// node is Ready (kind create cluster's default): the caller waits for
	// readiness itself while it installs what needs only the API server.
	NoWait bool
	// Verbosity is the KinD log level written to the cluster log (default 1).
	Verbosity int
	// newProvider replaces KinD's provider in tests.
	newProvider func(l kindlog.Logger) provider
	// strays replaces the process scan for stray docker runs in tests, and
	// strayPoll and strayLimit its cadence and bound (default strayPoll,
	// strayLimit).
	strays                func(cluster string) ([]int, error)
	strayPoll, strayLimit time.Duration
}

// awaitStrays waits for the docker runs a killed create of cluster left
// behind (stray.go) and returns the ones it saw.
func (k *Kind) awaitStrays(ctx context.Context, cluster string) ([]int, error) {
	list := k.strays
	if list == nil {
		list = func(c string) ([]int, error) { return procStrays("/proc", c) }
	}
	poll, limit := k.strayPoll, k.strayLimit
	if poll == 0 {
		poll = strayPoll
	}
	if limit == 0 {
		limit = strayLimit
	}
	return waitStrays(ctx, cluster, list, poll, limit)
}

// provider is the part of *cluster.Provider this package uses.
type provider interface {
	Create(name string, options ...cluster.CreateOption) error
	Delete(name, explicitKubeconfigPath string) error
	List() ([]string, error)
	ExportKubeConfig(name string, explicitPath string, internal bool) error
	CollectLogs(name, dir string) error
}

var _ provider = (*cluster.Provider)(nil)

func (k *Kind) provider(l kindlog.Logger) provider {
	if k.newProvider != nil {
		return k.newProvider(l)
	}
	opts := []cluster.ProviderOption{cluster.ProviderWithDocker()}
	if l != nil {
		opts = append(opts, cluster.ProviderWithLogger(l))
	}
	return cluster.NewProvider(opts...)
}

// List returns the names of every KinD cluster on the engine.
func (k *Kind) List() ([]string, error) {
	names, err := k.provider(nil).List()
	if err != nil {
		return nil, fmt.Errorf("listing kind clusters: %w", err)
	}
	return names, nil
}

// Create creates cluster c with its kubeconfig at c.Kubeconfig (0600) and its
// KinD log in c.LogDir/kind.log. A failed attempt's logs are collected into
// c.LogDir/attempt-N and its containers deleted before the next attempt.
// retries is the number of extra attempts. ctx is checked before each
// attempt: KinD itself cannot be interrupted. Docker runs of a killed
// create of the same cluster are waited for first, and the node they made
// deleted (stray.go).
func (k *Kind) Create(ctx context.Context, c topology.ClusterPlan, retries int) error {
	if err := os.MkdirAll(c.LogDir, 0o755); err != nil {
		return fmt.Errorf("cluster %q: log dir: %w", c.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o700); err != nil {
		return fmt.Errorf("cluster %q: kubeconfig dir: %w", c.Name, err)
	}
	f, err := os.OpenFile(filepath.Join(c.LogDir, "kind.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cluster %q: log file: %w", c.Name, err)
	}
	defer f.Close()
	verbosity := k.Verbosity
	if verbosity == 0 {
		verbosity = 1
	}
	p := k.provider(NewLogger(f, c.Name, verbosity))
	wait := k.WaitForReady
	if wait == 0 {
		wait = 5 * time.Minute
	}
	if k.NoWait {
		wait = 0
	}
	if seen, err := k.awaitStrays(ctx, c.Name); err != nil {
		return err
	} else if len(seen) > 0 {
		fmt.Fprintf(f, "waited for docker run (pid %v) of a killed create to end; deleting the node it made\n", seen)
		if err := p.Delete(c.Name, c.Kubeconfig); err != nil {
			return fmt.Errorf("cluster %q: deleting the node a killed create made: %w", c.Name, err)
		}
	}
	var errs []error
	for attempt := 1; attempt <= retries+1; attempt++ {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		err := p.Create(c.Name,
			cluster.CreateWithV1Alpha4Config(Config(c)),
			cluster.CreateWithKubeconfigPath(c.Kubeconfig),
			cluster.CreateWithWaitForReady(wait),
			cluster.CreateWithRetain(true), // keep the nodes for CollectLogs
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		)
		if err == nil {
			if err := os.Chmod(c.Kubeconfig, 0o600); err != nil {
				return fmt.Errorf("cluster %q: kubeconfig mode: %w", c.Name, err)
			}
			return nil
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
		logDir := filepath.Join(c.LogDir, fmt.Sprintf("attempt-%d", attempt))
		if cerr := p.CollectLogs(c.Name, logDir); cerr != nil {
			fmt.Fprintf(f, "collecting logs of failed attempt %d: %v\n", attempt, cerr)
		}
		if derr := p.Delete(c.Name, c.Kubeconfig); derr != nil {
			errs = append(errs, fmt.Errorf("deleting partial cluster: %w", derr))
			break
		}
	}
	return fmt.Errorf("cluster %q: create: %w (logs in %s)", c.Name, errors.Join(errs...), c.LogDir)
}

// Delete removes a cluster's containers and its entry in its own kubeconfig
// file (no shared file, so concurrent deletes do not contend for a lock),
// after the docker runs of a killed create of it have ended (stray.go).
func (k *Kind) Delete(name, kubeconfig string) error {
	if _, err := k.awaitStrays(context.Background(), name); err != nil {
		return err
	}
	if err := k.provider(nil).Delete(name, kubeconfig); err != nil {
		return fmt.Errorf("cluster %q: delete: %w", name, err)
	}
	return nil
}

// ExportKubeconfig rewrites a cluster's kubeconfig file (mode 0600).
func (k *Kind) ExportKubeconfig(name, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cluster %q: kubeconfig dir: %w", name, err)
	}
	if err := k.provider(nil).ExportKubeConfig(name, path, false); err != nil {
		return fmt.Errorf("cluster %q: export kubeconfig: %w", name, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("cluster %q: kubeconfig mode: %w", name, err)
	}
	return nil
}

// CollectLogs writes KinD's log bundle of a cluster into dir.
func (k *Kind) CollectLogs(name, dir string) error {
	if err := k.provider(nil).CollectLogs(name, dir); err != nil {
		return fmt.Errorf("cluster %q: collect logs: %w", name, err)
	}
	return nil
}

// Logger adapts KinD's logger to one writer, prefixing every line with the
// cluster name (as containerlab's kind logger does).
type Logger struct {
	mu        *sync.Mutex
	w         io.Writer
	cluster   string
	verbosity int
}

var _ kindlog.Logger = (*Logger)(nil)

// NewLogger writes KinD messages up to verbosity to w.
func NewLogger(w io.Writer, cluster string, verbosity int) *Logger {
	return &Logger{mu: &sync.Mutex{}, w: w, cluster: cluster, verbosity: verbosity}
}

func (l *Logger) write(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s kind-cluster=%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), l.cluster, level, msg)
}

// Warn implements kindlog.Logger.
func (l *Logger) Warn(message string) { l.write("WARN", message) }

// Warnf implements kindlog.Logger.
func (l *Logger) Warnf(format string, args ...interface{}) {
	l.write("WARN", fmt.Sprintf(format, args...))
}

// Error implements kindlog.Logger.
func (l *Logger) Error(message string) { l.write("ERROR", message) }

// Errorf implements kindlog.Logger.
func (l *Logger) Errorf(format string, args ...interface{}) {
	l.write("ERROR", fmt.Sprintf(format, args...))
}

// V implements kindlog.Logger.
func (l *Logger) V(level kindlog.Level) kindlog.InfoLogger {
	return infoLogger{l: l, enabled: int(level) <= l.verbosity}
}

type infoLogger struct {
	l       *Logger
	enabled bool
}

func (i infoLogger) Info(message string) {
	if i.enabled {
		i.l.write("INFO", message)
	}
}

func (i infoLogger) Infof(format string, args ...interface{}) {
	if i.enabled {
		i.l.write("INFO", fmt.Sprintf(format, args...))
	}
}

func (i infoLogger) Enabled() bool { return i.enabled }
