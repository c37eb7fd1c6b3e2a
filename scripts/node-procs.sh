#!/usr/bin/env bash
# node-procs.sh: where a KinD node's idle CPU and memory go, per process,
# for several node containers over the same window, so that one moment's
# load on the host falls on all of them (docs/scale.md compares profiles
# this way: per-container windows on a 2-core host vary by ±30 m, per
# process side by side by about 2 m).
#
# For each node it reads, at the start and the end of the window, the
# user+system ticks (/proc/PID/stat) of every process in the container's
# cgroup and its children, and at the end each process's resident and
# anonymous memory (/proc/PID/status). It prints, per node, the CPU in
# millicores and RssAnon in MiB grouped by command, then the node's total
# and the cgroup's anonymous memory (cgroup v1 memory.stat total_rss,
# v2 memory.stat anon).
#
# Usage: scripts/node-procs.sh [-w SECONDS] NODE_CONTAINER...   (default 120)
# Needs: root (to read other processes' /proc entries), docker, awk.
set -euo pipefail

window=120
if [[ ${1:-} == -w ]]; then
	window=${2:?"-w needs seconds"}
	shift 2
fi
if (($# == 0)); then
	echo "usage: $0 [-w SECONDS] NODE_CONTAINER..." >&2
	exit 2
fi
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cgdir NODE: the container's cgroup directory holding its processes
# (cgroup v1: the cpuacct hierarchy; v2: the unified one).
cgdir() {
	local pid path
	pid=$(docker inspect -f '{{.State.Pid}}' "$1")
	[[ $pid != 0 ]] || { echo "node-procs: $1 is not running" >&2; exit 1; }
	if path=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3; exit}' "/proc/$pid/cgroup") && [[ -n $path ]]; then
		path=${path%/init.scope}
		for root in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct; do
			[[ -d $root$path ]] && { echo "$root$path"; return; }
		done
	fi
	path=$(awk -F: '$1 == "0" {print $3; exit}' "/proc/$pid/cgroup")
	path=${path%/init.scope}
	echo "/sys/fs/cgroup$path"
}

# snap DIR: "pid comm ticks" of every process under cgroup DIR.
snap() {
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		comm=${s#*(}
		comm=${comm%%)*}
		read -r -a f <<<"${s##*) }"
		echo "$p ${comm// /_} $((f[11] + f[12]))"
	done
}

declare -A dirs
for n in "$@"; do
	dirs[$n]=$(cgdir "$n")
	snap "${dirs[$n]}" >"$work/$n.a"
done
sleep "$window"
for n in "$@"; do
	snap "${dirs[$n]}" >"$work/$n.b"
	while read -r p comm _; do
		a=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
		echo "$p ${a:-0}"
	done <"$work/$n.b" >"$work/$n.mem"
	stat=${dirs[$n]}/memory.stat
	[[ -f $stat ]] || stat=/sys/fs/cgroup/memory${dirs[$n]#/sys/fs/cgroup/cpuacct}/memory.stat
	anon=$(awk '$1 == "total_rss" || $1 == "anon" {print $2; exit}' "$stat" 2>/dev/null || echo 0)
	echo "== $n (${window}s)"
	# processes present at both ends; CPU of the window, RssAnon at its end
	join <(sort "$work/$n.a") <(sort "$work/$n.b") | join - <(sort "$work/$n.mem") |
		awk -v hz="$hz" -v w="$window" -v anon="${anon:-0}" '
			{ m = ($5 - $3) * 1000 / hz / w; cpu[$2] += m; mem[$2] += $6; tc += m; tm += $6 }
			END {
				for (c in cpu) printf "%-24s %7.1f m %7.1f MiB\n", c, cpu[c], mem[c] / 1024 | "sort -k2 -rn"
				close("sort -k2 -rn")
				printf "%-24s %7.1f m %7.1f MiB (processes); cgroup anonymous %.0f MiB\n", "TOTAL", tc, tm / 1024, anon / 1048576
			}'
done
