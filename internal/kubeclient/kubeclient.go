package kubeclient

import (
	"fmt"
	"sync"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The rate limit of every client: the runner watches and patches a lot
// during a campaign, and client-go's default 5 QPS would add queueing delay
// to the reset between runs and to the measured API writes.
const (
	QPS   = 50
	Burst = 100
)

// Clients are the API clients of one cluster.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Config  *rest.Config
}

// Factory builds (and caches, per kubeconfig file) the clients of a
// cluster. The zero value is ready to use and safe for concurrent use.
type Factory struct {
	// Load overrides how a kubeconfig file becomes a rest.Config (tests).
	Load func(kubeconfig string) (*rest.Config, error)

	mu    sync.Mutex
	cache map[string]*Clients
}

// Config returns the rest.Config of a kubeconfig file with the policy's rate limit.
func (f *Factory) Config(kubeconfig string) (*rest.Config, error) {
	load := f.Load
	if load == nil {
		load = func(p string) (*rest.Config, error) { return clientcmd.BuildConfigFromFlags("", p) }
	}
	cfg, err := load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = QPS, Burst
	return cfg, nil
}

// For returns the clients of the cluster whose kubeconfig file is given.
func (f *Factory) For(kubeconfig string) (*Clients, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.cache[kubeconfig]; ok {
		return c, nil
	}
	cfg, err := f.Config(kubeconfig)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", kubeconfig, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for %s: %w", kubeconfig, err)
	}
	c := &Clients{Kube: kube, Dynamic: dyn, Config: cfg}
	if f.cache == nil {
		f.cache = map[string]*Clients{}
	}
	f.cache[kubeconfig] = c
	return c, nil
}

// Forget drops the cached clients of a kubeconfig file (after the cluster
// was recreated, its credentials changed).
func (f *Factory) Forget(kubeconfig string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cache, kubeconfig)
}

// Kube returns the typed client of a kubeconfig file.
func (f *Factory) Kube(kubeconfig string) (kubernetes.Interface, error) {
	c, err := f.For(kubeconfig)
	if err != nil {
		return nil, err
	}
	return c.Kube, nil
}

// KubeDynamic returns the typed and dynamic clients of a kubeconfig file.
func (f *Factory) KubeDynamic(kubeconfig string) (kubernetes.Interface, dynamic.Interface, error) {
	c, err := f.For(kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	return c.Kube, c.Dynamic, nil
}
