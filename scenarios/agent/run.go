package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options configure a production agent (`testbed agent`).
type Options struct {
	Config
	// Interface is the discovery interface (the pod's macvlan, eth1).
	Interface string
	// GroupAddress is the multicast ip:port (DefaultGroupAddress).
	GroupAddress string
	// Kubeconfig is a kubeconfig path; empty means in-cluster config.
	Kubeconfig string
	// Namespace receives the Peer objects (testbed-agent).
	Namespace string
	// MetricsAddress serves /metrics and /healthz; empty disables it.
	MetricsAddress string
	// DryRun keeps peers in memory instead of the Kubernetes API.
	DryRun bool
	Logger *slog.Logger
}

// Run starts the agent with a UDP multicast transport and a Kubernetes peer
// store and blocks until ctx ends (SIGTERM), then leaves with a goodbye.
func Run(ctx context.Context, o Options) error {
	if o.GroupAddress == "" {
		o.GroupAddress = DefaultGroupAddress
	}
	if o.Namespace == "" {
		o.Namespace = Namespace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var store PeerStore
	if o.DryRun {
		ms := NewMemoryStore()
		ms.OnChange = func(op string, p Peer) {
			o.Logger.Info("peer store", "op", op, "peer", p.Cluster, "address", p.Address, "lastSeen", p.LastSeen)
		}
		store = ms
	} else {
		cfg, err := restConfig(o.Kubeconfig)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", o.Cluster, err)
		}
		dc, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("cluster %s: dynamic client: %w", o.Cluster, err)
		}
		store = NewKubeStore(dc, o.Namespace, o.Cluster)
	}
	tr, err := ListenMulticast(ctx, o.Interface, o.GroupAddress)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Cluster, err)
	}
	if o.Address == "" {
		gap, _ := netip.ParseAddrPort(o.GroupAddress)
		o.Address = netip.AddrPortFrom(tr.LocalAddr(), gap.Port()).String()
	}
	a, err := New(o.Config, tr, store, WithLogger(o.Logger))
	if err != nil {
		tr.Close()
		return err
	}
	c := a.Config()
	o.Logger.Info("reference agent starting", "cluster", c.Cluster, "address", c.Address, "interface", o.Interface,
		"group", o.GroupAddress, "groups", c.Groups, "interval", c.Interval, "firstDelay", c.FirstDelay,
		"ttl", c.TTL, "housekeeping", c.Housekeeping, "namespace", o.Namespace)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Run(gctx) })
	if o.MetricsAddress != "" {
		srv := &http.Server{Addr: o.MetricsAddress, Handler: Handler(a), ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", o.MetricsAddress)
		if err != nil {
			tr.Close()
			return fmt.Errorf("cluster %s: metrics listener: %w", o.Cluster, err)
		}
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	err = g.Wait()
	o.Logger.Info("reference agent stopped", "cluster", c.Cluster, "announcements", a.Metrics().AnnouncementsSent.Load(),
		"goodbyes", a.Metrics().GoodbyesSent.Load(), "apiErrors", a.Metrics().APIErrorsTotal())
	return err
}

// Client-side rate limits of the agent's API client. client-go's defaults
// (5 QPS, burst 10) would queue the creates of a burst of new peers behind
// each other and add their wait to every measured discovery; the agent's
// own write pacing (one update per peer per interval) bounds its load.
const (
	clientQPS   = 100
	clientBurst = 200
)

func restConfig(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (use --kubeconfig outside a pod): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	return cfg, nil
}

// Handler serves /metrics (Prometheus text) and /healthz (503 when a loop of
// the agent died).
func Handler(a *Agent) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = a.Metrics().WriteTo(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := a.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/peers", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, p := range a.Peers() {
			_, _ = fmt.Fprintf(w, "%s\t%s\t%s\n", p.Cluster, p.Address, strconv.FormatInt(p.FirstRecvNS, 10))
		}
	})
	return mux
}
