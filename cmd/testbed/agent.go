package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fluidos-lab/testbed/scenarios/agent"
)

type agentFlags struct {
	cluster      string
	iface        string
	groupAddress string
	port         int
	address      string
	groups       []string
	interval     time.Duration
	firstDelay   string
	ttl          time.Duration
	housekeeping time.Duration
	maxPeers     int
	kubeconfig   string
	namespace    string
	metrics      string
	logLevel     string
	dryRun       bool
}

func newAgentCommand(a *app) *cobra.Command {
	streams := a.streams
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the reference discovery agent (inside a pod of the reference-agent chart)",
		Long: `Run testbed's reference discovery agent. It announces this cluster by UDP
multicast on the discovery interface, listens for peers on the same group and
writes one Peer object (agent.testbed.dev/v1alpha1) per live peer, with the
ground-truth receive and send times of the first announcement as annotations.
On SIGTERM it sends a goodbye so that peers drop it at once.

It uses the in-cluster configuration unless --kubeconfig is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(streams)
			if err != nil {
				return fmt.Errorf("validating options: %w", err)
			}
			return agent.Run(cmd.Context(), o)
		},
	}
	f.bind(cmd.Flags())
	_ = cmd.MarkFlagRequired("cluster")
	return cmd
}

func (f *agentFlags) bind(fl *pflag.FlagSet) {
	fl.StringVar(&f.cluster, "cluster", "", "this cluster's name (required; a DNS label)")
	fl.StringVar(&f.iface, "interface", "eth1", "discovery interface (the pod's macvlan)")
	fl.StringVar(&f.groupAddress, "group-address", "239.11.11.2", "IPv4 multicast group")
	fl.IntVar(&f.port, "port", 4001, "UDP port")
	fl.StringVar(&f.address, "address", "", "ip:port to announce (default: the interface's IPv4 address and --port)")
	fl.StringArrayVar(&f.groups, "group", []string{"default"}, "tenancy group (repeatable); agents sharing no group ignore each other")
	fl.DurationVar(&f.interval, "interval", agent.DefaultInterval, "announcement period")
	fl.StringVar(&f.firstDelay, "first-delay", "", "delay of the first announcement (default: one interval; 0 = immediate)")
	fl.DurationVar(&f.ttl, "ttl", agent.DefaultTTL, "a peer expires this long after its last announcement")
	fl.DurationVar(&f.housekeeping, "housekeeping", agent.DefaultHousekeeping, "period of the expiry sweep")
	fl.IntVar(&f.maxPeers, "max-peers", agent.DefaultMaxPeers, "peer table cap; further new peers are rejected and counted")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	fl.StringVar(&f.namespace, "namespace", agent.Namespace, "namespace of the Peer objects")
	fl.StringVar(&f.metrics, "metrics-address", ":9464", "serve /metrics and /healthz here (empty: off)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.BoolVar(&f.dryRun, "dry-run", false, "keep peers in memory and log them instead of writing Peer objects")
}

func (f *agentFlags) options(streams IOStreams) (agent.Options, error) {
	var o agent.Options
	ga, err := netip.ParseAddr(f.groupAddress)
	if err != nil || !ga.Is4() || !ga.IsMulticast() {
		return o, fmt.Errorf("--group-address %q is not an IPv4 multicast address", f.groupAddress)
	}
	if f.port <= 0 || f.port > 65535 {
		return o, fmt.Errorf("--port %d out of range", f.port)
	}
	if f.interval <= 0 || f.ttl <= 0 || f.housekeeping <= 0 {
		return o, fmt.Errorf("--interval, --ttl and --housekeeping must be positive")
	}
	firstDelay := f.interval
	if f.firstDelay != "" {
		if firstDelay, err = time.ParseDuration(f.firstDelay); err != nil || firstDelay < 0 {
			return o, fmt.Errorf("--first-delay %q: want a non-negative duration such as 0s or 5s", f.firstDelay)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return o, fmt.Errorf("--log-level %q: %w", f.logLevel, err)
	}
	o = agent.Options{
		Config: agent.Config{
			Cluster:      f.cluster,
			Address:      f.address,
			Groups:       f.groups,
			Interval:     f.interval,
			FirstDelay:   firstDelay,
			TTL:          f.ttl,
			Housekeeping: f.housekeeping,
			MaxPeers:     f.maxPeers,
		},
		Interface:      f.iface,
		GroupAddress:   netip.AddrPortFrom(ga, uint16(f.port)).String(),
		Kubeconfig:     f.kubeconfig,
		Namespace:      f.namespace,
		MetricsAddress: f.metrics,
		DryRun:         f.dryRun,
		Logger:         slog.New(slog.NewJSONHandler(streams.ErrOut, &slog.HandlerOptions{Level: level})),
	}
	if o.MaxPeers <= 0 {
		return o, fmt.Errorf("--max-peers %s must be positive", strconv.Itoa(f.maxPeers))
	}
	return o, nil
}
