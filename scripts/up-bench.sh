#!/usr/bin/env bash
# up-bench.sh: how much testbed's `up` costs over KinD itself, on this host,
# repeated R times and interleaved so that both see the same machine. Each
# round runs, one after the other:
#   1. N parallel `kind create cluster --wait 5m` (every node Ready),
#   2. N parallel `kind create cluster` (returns after kubeadm and the CNI),
#   3. `testbed up` of N single-node lean clusters with the reference agent
#      (default parallelism, node image baked before the first round).
# It prints every round and the medians, and the bars of issue 13:
#   clusters ready (first create to the last node Ready) / 1.   <= 1.05
#   create span (KinD's part)                            / 2.   (same work)
#   up total                                     / clusters ready <= 1.2
#
# Usage: scripts/up-bench.sh [N] [R]   (default N=3, R=3; from the repository root)
# Env:   TESTBED (default bin/testbed), KIND (default kind), NODE_IMAGE
#        (default $TESTBED_NODE_IMAGE, else kind's default), PROFILE (lean),
#        OUT (default /tmp/testbed-up-bench).
# Needs: a Docker engine, the kind CLI, bc.
set -euo pipefail

N=${1:-3}
R=${2:-3}
TESTBED=${TESTBED:-bin/testbed}
KIND=${KIND:-kind}
NODE_IMAGE=${NODE_IMAGE:-${TESTBED_NODE_IMAGE:-}}
PROFILE=${PROFILE:-lean}
OUT=${OUT:-/tmp/testbed-up-bench}
export TESTBED_STATE_DIR=${TESTBED_STATE_DIR:-$OUT/state}

for tool in "$TESTBED" "$KIND" bc docker; do
	command -v "$tool" >/dev/null || { echo "up-bench: $tool not found (see the header for the env variables)" >&2; exit 2; }
done
[[ -f charts/reference-agent/Chart.yaml ]] || { echo "up-bench: run from the repository root" >&2; exit 2; }
mkdir -p "$OUT"
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# dur TEXT: a Go duration (1m1.8s, 33s, 200ms) in seconds.
dur() { awk -v d="$1" 'BEGIN { s = 0; if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000; exit }
	if (d ~ /m/) { split(d, a, "m"); s = a[1] * 60; d = a[2] } sub(/s$/, "", d); print s + d }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cat >"$OUT/topology.yaml" <<EOF
apiVersion: testbed.dev/v1alpha1
kind: Topology
metadata:
  name: up-bench
clusters:
  count: $N
  namePattern: ub-%02d
  profile: $PROFILE
network:
  name: testbed-up-bench
  subnet: 172.29.40.0/24
macvlan:
  subnet: 10.140.0.0/16
fluidos:
  enabled: false
extraCharts:
  - name: reference-agent
    chart: $PWD/charts/reference-agent
    namespace: testbed-agent
EOF

image_flag=()
[[ -n $NODE_IMAGE ]] && image_flag=(--image "$NODE_IMAGE")
# kind_parallel [FLAGS]: seconds for N parallel kind creates (then deleted).
kind_parallel() {
	local t0 t1 i failed=0
	local -a pids=()
	t0=$(date +%s.%N)
	for i in $(seq 1 "$N"); do
		"$KIND" create cluster --name "upb-$i" "${image_flag[@]}" "$@" --kubeconfig "$OUT/kind-$i.kubeconfig" >"$OUT/kind-$i.log" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 1 "$N"); do
		wait "${pids[i - 1]}" || { echo "up-bench: kind create of upb-$i failed (see $OUT/kind-$i.log)" >&2; failed=1; }
	done
	t1=$(date +%s.%N)
	# Every delete is tried; a failed one leaves a node the next rounds
	# would not create afresh.
	for i in $(seq 1 "$N"); do
		"$KIND" delete cluster --name "upb-$i" --kubeconfig "$OUT/kind-$i.kubeconfig" >"$OUT/kind-delete-$i.log" 2>&1 ||
			{ echo "up-bench: deleting upb-$i failed (see $OUT/kind-delete-$i.log)" >&2; failed=1; }
	done
	((failed == 0)) || exit 1
	echo "$t1 - $t0" | bc
}

# testbed_up ROUND: up (figures to $OUT/up-ROUND.txt), then down.
testbed_up() {
	"$TESTBED" up "$OUT/topology.yaml" >"$OUT/up-$1.txt" 2>"$OUT/up-$1.log" || { tail -20 "$OUT/up-$1.log" >&2; exit 1; }
	"$TESTBED" down "$OUT/topology.yaml" >/dev/null 2>&1
}

if left=$("$KIND" get clusters 2>/dev/null | grep '^upb-'); then
	echo "up-bench: kind clusters of an earlier bench are still there ($(echo $left)); delete them first" >&2
	exit 2
fi
log "warming up: bake the node image once (not timed)"
testbed_up 0
: >"$OUT/rounds.txt"
for r in $(seq 1 "$R"); do
	log "round $r/$R: $N parallel kind create cluster --wait 5m"
	wait_s=$(kind_parallel --wait 5m)
	log "round $r/$R: $N parallel kind create cluster"
	nowait_s=$(kind_parallel)
	log "round $r/$R: testbed up"
	testbed_up "$r"
	t=$OUT/up-$r.txt
	total=$(dur "$(awk '$1 == "total" { print $2 }' "$t")")
	create=$(dur "$(awk '$1 == "create" && NF >= 4 { print $3; exit }' "$t")")
	ready=$(dur "$(sed -n 's/^clusters ready \([^ ]*\) after.*/\1/p' "$t")")
	echo "$r $wait_s $nowait_s $create $ready $total" >>"$OUT/rounds.txt"
done

col() { awk -v c="$1" '{ print $c }' "$OUT/rounds.txt" | median; }
kw=$(col 2) kn=$(col 3) cr=$(col 4) rd=$(col 5) tt=$(col 6)
echo "up-bench on $(hostname), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, N=$N, $R rounds, profile $PROFILE, $(date -u +%Y-%m-%dT%H:%MZ)"
printf 'round  kind --wait  kind  testbed create  clusters ready  up total\n'
awk '{ printf "%5d  %10.1fs  %4.1fs  %13.1fs  %13.1fs  %7.1fs\n", $1, $2, $3, $4, $5, $6 }' "$OUT/rounds.txt"
printf 'median %10.1fs  %4.1fs  %13.1fs  %13.1fs  %7.1fs\n' "$kw" "$kn" "$cr" "$rd" "$tt"
echo "bars (medians):"
printf '  clusters ready / %d parallel kind create --wait = %.2f (bar <= 1.05)\n' "$N" "$(echo "$rd / $kw" | bc -l)"
printf '  create span / %d parallel kind create        = %.2f\n' "$N" "$(echo "$cr / $kn" | bc -l)"
printf '  up total / clusters ready                   = %.2f (bar <= 1.2)\n' "$(echo "$tt / $rd" | bc -l)"
echo "last round's up:"
sed -n '/^STEP/,/^created/p' "$OUT/up-$R.txt" | sed 's/^/  /'
