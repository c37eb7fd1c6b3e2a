#!/usr/bin/env bash
# scale-bench.sh: stock versus lean node profile, and baked versus per-node
# image import, on this host, in one run. Prints the figures docs/scale.md
# quotes:
#   1. N parallel `kind create cluster` calls (the floor for the clusters phase);
#   2. `testbed up` with the lean profile and a baked node image: per-step
#      spans, critical path, total;
#   3. its idle cost per cluster (testbed doctor --measure) and a short
#      discovery campaign;
#   4. the same with the stock profile;
#   5. lean with --no-bake (per-node `ctr images import`);
#   6. `testbed compare` of the two campaigns (discovery unchanged?).
#
# Usage: scripts/scale-bench.sh [N]   (default N=3; run from the repository root)
# Env:   TESTBED (default bin/testbed), KIND (default kind), NODE_IMAGE
#        (default $TESTBED_NODE_IMAGE, else kind's default), SETTLE (s, 60),
#        WINDOW (doctor --measure window, 60s), RUNS (campaign runs, 15),
#        OUT (work directory, default /tmp/testbed-scale-bench),
#        BASELINE_ONLY=1 (only the kind baselines).
# Needs: a Docker engine, the kind CLI (for the baseline only), jq.
set -euo pipefail

N=${1:-3}
TESTBED=${TESTBED:-bin/testbed}
KIND=${KIND:-kind}
NODE_IMAGE=${NODE_IMAGE:-${TESTBED_NODE_IMAGE:-}}
SETTLE=${SETTLE:-60}
WINDOW=${WINDOW:-60s}
RUNS=${RUNS:-15}
OUT=${OUT:-/tmp/testbed-scale-bench}
export TESTBED_STATE_DIR=${TESTBED_STATE_DIR:-$OUT/state}

for tool in "$TESTBED" "$KIND" jq docker; do
	command -v "$tool" >/dev/null || { echo "scale-bench: $tool not found (see the header for the env variables)" >&2; exit 2; }
done
[[ -f charts/reference-agent/Chart.yaml ]] || { echo "scale-bench: run from the repository root" >&2; exit 2; }
mkdir -p "$OUT"
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# dur TEXT: a Go duration (1m1.8s, 33s, 200ms) in seconds.
dur() { awk -v d="$1" 'BEGIN { s = 0; if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000; exit }
	if (d ~ /m/) { split(d, a, "m"); s = a[1] * 60; d = a[2] } sub(/s$/, "", d); print s + d }'; }
# span LAB STEP: the SPAN column of STEP in the lab's up table, in seconds.
span() { dur "$(awk -v s="$2" '$1 == s && NF >= 4 { print $3; exit }' "$OUT/$1/up.txt")"; }

# topology NAME PROFILE SUBNET: a lab of N single-node clusters running the
# reference agent.
topology() {
	local name=$1 profile=$2 subnet=$3 third
	third=$(cut -d. -f3 <<<"$subnet")
	mkdir -p "$OUT/$name"
	cat >"$OUT/$name/topology.yaml" <<EOF
apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata:
  name: $name
clusters:
  count: $N
  namePattern: $name-%02d
  profile: $profile
network:
  name: testbed-$name
  subnet: $subnet
multicastSnooping: false
macvlan:
  subnet: 10.$((120 + third % 100)).0.0/16
fluidos:
  enabled: false
extraCharts:
  - name: reference-agent
    chart: charts/reference-agent
    namespace: testbed-agent
EOF
	sed -i '/^multicastSnooping/d' "$OUT/$name/topology.yaml"
	cat >"$OUT/$name/scenario.yaml" <<EOF
apiVersion: testbed.dev/v1alpha1
kind: Scenario
metadata:
  name: $name
topology: topology.yaml
protocol:
  preset: reference-agent
  announceInterval: 5s
nodeA: $name-01
runs: $RUNS
warmup: 1
delayBetweenRuns: 2s
runTimeout: 40s
phase:
  mode: random
seed: 20261203
measurements: [discovery, reverse]
conditions:
  - name: loss-0
    target: peers
    impairment:
      loss: 0
EOF
}

# up_figures NAME: the step table of the lab's up.
up_figures() {
	local t=$OUT/$1/up.txt
	printf '  up total %ss; clusters phase (create span) %ss; bake %ss; images %ss\n' \
		"$(dur "$(awk '$1 == "total" { print $2 }' "$t")")" "$(span "$1" create)" "$(span "$1" bake)" "$(span "$1" images)"
	sed -n '/^STEP/,/^created/p' "$t" | sed 's/^/    /'
}

# lab NAME PROFILE SUBNET [UP FLAGS]: up, settle, measure, campaign, down.
lab() {
	local name=$1 profile=$2 subnet=$3
	shift 3
	topology "$name" "$profile" "$subnet"
	log "$name: up ($profile $*)"
	"$TESTBED" up "$OUT/$name/topology.yaml" "$@" >"$OUT/$name/up.txt" 2>"$OUT/$name/up.log" || {
		tail -20 "$OUT/$name/up.log" >&2; exit 1; }
	log "$name: settling ${SETTLE}s, then measuring over $WINDOW"
	sleep "$SETTLE"
	"$TESTBED" doctor "$OUT/$name/topology.yaml" --measure "$WINDOW" -o json >"$OUT/$name/doctor.json" 2>"$OUT/$name/doctor.log" || true
	jq -e '.capacity.costs.source == "measured"' "$OUT/$name/doctor.json" >/dev/null || {
		tail -5 "$OUT/$name/doctor.log" >&2; exit 1; }
	if [[ ${CAMPAIGN:-1} == 1 ]]; then
		log "$name: campaign of $RUNS runs"
		rm -rf "$OUT/$name/campaign"
		"$TESTBED" run "$OUT/$name/scenario.yaml" --output "$OUT/$name/campaign" >"$OUT/$name/run.log" 2>&1 || {
			tail -20 "$OUT/$name/run.log" >&2; exit 1; }
	fi
	log "$name: down"
	"$TESTBED" down "$OUT/$name/topology.yaml" >"$OUT/$name/down.log" 2>&1
}

costs() {
	jq -r '.capacity.costs | "  per cluster: memory \(.memoryMiB|round) MiB (max \(.memoryMaxMiB|round)), CPU \(.cpuCores*1000|round) millicores (max \(.cpuMaxCores*1000|round)), inotify \(.inotifyInstances|round) instances / \(.inotifyWatches|round) watches, over \(.windowSeconds|round) s"' "$OUT/$1/doctor.json"
	jq -r '.capacity | "  largest lab on this host: \(.largest) clusters, bound by \(.binding)"' "$OUT/$1/doctor.json"
}

# 1. The floor: N parallel kind creates on kind's own network, as kind
# returns (kubeadm init done) and with --wait 5m (the node Ready, which is
# where testbed's create step ends too).
image_flag=()
[[ -n $NODE_IMAGE ]] && image_flag=(--image "$NODE_IMAGE")
kind_parallel() {
	local t0 t1 i
	t0=$(date +%s.%N)
	for i in $(seq 1 "$N"); do
		"$KIND" create cluster --name "bench-$i" "${image_flag[@]}" "$@" --kubeconfig "$OUT/kind-$i.kubeconfig" >"$OUT/kind-$i.log" 2>&1 &
	done
	wait
	t1=$(date +%s.%N)
	for i in $(seq 1 "$N"); do "$KIND" delete cluster --name "bench-$i" --kubeconfig "$OUT/kind-$i.kubeconfig" >/dev/null 2>&1; done
	echo "$t1 - $t0" | bc
}
log "baseline: $N parallel kind create cluster"
baseline_nowait=$(kind_parallel)
log "baseline: $N parallel kind create cluster --wait 5m"
baseline=$(kind_parallel --wait 5m)
[[ ${BASELINE_ONLY:-0} == 1 ]] && { printf '%d parallel kind create cluster: %.1fs; with --wait 5m: %.1fs\n' "$N" "$baseline_nowait" "$baseline"; exit 0; }

lab scale-lean lean 172.29.10.0/24
lab scale-stock stock 172.29.20.0/24
CAMPAIGN=0 lab scale-nobake lean 172.29.30.0/24 --no-bake

lean_c=$(jq '.capacity.costs' "$OUT/scale-lean/doctor.json")
stock_c=$(jq '.capacity.costs' "$OUT/scale-stock/doctor.json")
stock_create=$(span scale-stock create)
stock_wall=$(dur "$(awk '$1 == "total" { print $2 }' "$OUT/scale-stock/up.txt")")
lean_create=$(span scale-lean create)

echo "scale-bench on $(hostname), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, N=$N, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%d parallel kind create cluster: %.1fs; with --wait 5m (node Ready): %.1fs\n' "$N" "$baseline_nowait" "$baseline"
for lab in scale-lean scale-stock scale-nobake; do
	echo "$lab:"
	up_figures "$lab"
	costs "$lab"
done
echo "bars:"
printf '  stock clusters phase / parallel kind creates --wait = %.2f (bar <= 1.05)\n' "$(echo "$stock_create / $baseline" | bc -l)"
printf '  lean clusters phase / parallel kind creates --wait = %.2f\n' "$(echo "$lean_create / $baseline" | bc -l)"
printf '  stock up total / its clusters phase = %.2f (bar <= 1.2; bake cached)\n' "$(echo "$stock_wall / $stock_create" | bc -l)"
printf '  lean idle CPU per cluster / stock = %.2f (bar <= 0.5)\n' "$(jq -n --argjson a "$lean_c" --argjson b "$stock_c" '$a.cpuCores / $b.cpuCores')"
printf '  lean memory per cluster / stock = %.2f (bar <= 0.7)\n' "$(jq -n --argjson a "$lean_c" --argjson b "$stock_c" '$a.memoryMiB / $b.memoryMiB')"
echo "discovery, lean versus stock (testbed compare):"
"$TESTBED" compare "$OUT/scale-stock/campaign" "$OUT/scale-lean/campaign" 2>&1 | sed 's/^/  /' || true
