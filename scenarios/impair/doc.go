// Package impair shapes the discovery network of a KinD lab from outside
// the pods, picks the run phase, and reads exact container start times
// from the container runtime.
//
// # Impairments
//
// Everything runs inside the KinD node container through an Executor
// (Docker in production, Local for doctor and the integration tests): the
// pod's network namespace is found with crictl, and commands run in it with
// nsenter. Only the discovery (macvlan) interface is touched; eth0 (the
// pod's API path) and lo are refused, and nothing uses iptables OUTPUT,
// whose drops the sender sees as EPERM.
//
// The runner's sequence, per campaign:
//
//	cli, _ := dockerx.NewClient(""); x := dockerx.Nodes{API: cli}
//	caps, err := impair.Probe(ctx, x, "lab-c1-control-plane")
//	for _, c := range conditions {                   // before the first run
//		if err := impair.Validate(caps, c.Spec); err != nil { ... refuse the scenario }
//	}
//	im, err := impair.Select(caps, spec, x, impair.NewResolver(x))
//	t := impair.Target{Cluster: "c2", Node: "lab-c2-control-plane",
//		Namespace: "testbed-agent", Pod: "reference-agent-x7k2p", Interface: "eth1"}
//	err = im.Apply(ctx, t, spec)   // again after t's pod restarts (new pod = new netns)
//	before, _ := im.Stats(ctx, t)  // at the start of a run
//	after, _ := im.Stats(ctx, t)   // at its end
//	run.Impairment = impair.Record(im.Backend(), "peers", spec, after.Sub(before))
//	defer im.Remove(context.WithoutCancel(ctx), t) // idempotent; the pod gone is success
//
// Backends: Netem (tc qdisc replace … netem; every Spec field; read back
// with tc -s qdisc show and verified; sent/dropped from its statistics) and
// Nftables (loss only: a netdev table "testbed" with an egress chain on the
// interface, "numgen random mod 1000000 < N" drop, named counters "seen"
// and "dropped"). Probe tries both in a throw-away namespace inside the node
// and Select uses netem where the kernel has it. Validate refuses, before any
// run, a Spec the host cannot apply and says which kernel feature is missing
// and how to get it. SupportCheck is doctor's check (it probes from a
// throw-away container of the node image). Apply always resolves the pod's
// namespace afresh (2 crictl execs); Stats and Remove reuse the remembered
// path (1 exec) and resolve again if nsenter finds it gone.
//
// # Phase
//
// Phase.Pause(seed, condition, index, T) is the wait before each start:
// uniform in [0, T) for PhaseRandom (the default), 0 for PhaseAligned. It
// depends only on its arguments, so a resumed campaign redraws the same
// pauses. Record it in results.Run.PauseMS.
//
// # Start markers
//
// Resolver.ContainerStart returns the runtime's status.startedAt (crictl
// inspect, nanosecond precision) of a pod's container; the runner converts
// it to results.PodTimeline.ContainerStartMS and keeps the API-observed pod
// times as well. Resolver.NetNS returns the pod's network namespace path.
package impair
