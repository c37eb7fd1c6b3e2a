#!/usr/bin/env bash
# second-host.sh: a second Docker engine on this machine, standing in for a
# second lab host ("host B") in CI. Run as root. Idempotent.
#
#   up            netns tbhostb, veth tbh-a (root ns, 192.168.250.1/30) <->
#                 tbh-b (tbhostb, 192.168.250.2/30), dockerd B in tbhostb,
#                 then prove L3 reachability and a port published by engine B.
#   down [--purge]  stop dockerd B, remove the veth, the netns and the run
#                 directory (exec root, socket, pidfile); --purge also removes
#                 the data root. The first engine is never touched.
#   env           print export lines for callers (eval "$(... env)").
#
# Engine B shares the kernel, the mount namespace and /etc with the first
# engine, so it gets its own everything that could collide: data root, exec
# root, socket, pidfile, an empty config file (the first engine's
# /etc/docker/daemon.json already defines the runtime "tb"; --add-runtime with
# the same name would conflict), cgroup parent and default bridge. It does
# share /etc/docker/key.json (dockerd 20.10 has no flag for it), so both
# engines report the same ID in `docker info`.
set -euo pipefail

NS=tbhostb
VETH_A=tbh-a
VETH_B=tbh-b
ADDR_A=192.168.250.1
ADDR_B=192.168.250.2
PREFIX=30
MTU=1500
DATA_ROOT=/var/lib/testbed-hostb
RUN_DIR=/run/testbed-hostb
EXEC_ROOT=$RUN_DIR/exec
SOCK=$RUN_DIR/docker.sock
HOST_URL=unix://$SOCK
PIDFILE=$RUN_DIR/docker.pid
CONFIG=$RUN_DIR/daemon.json
LOG=/var/log/testbed-hostb-dockerd.log
# Default bridge of engine B: its own name and subnet. dockerd refuses -b with
# --bip, and only creates a bridge itself when it is called docker0, so the
# script creates tbhb0 with its address and passes -b. The subnet is outside
# engine A's docker0 (172.17.0.0/16) and the testbed defaults (172.30.0.0/16,
# 10.100.0.0/16, 10.244.0.0/16, 10.96.0.0/16).
BRIDGE=tbhb0
BRIDGE_CIDR=172.18.250.1/24
# Engine B's containers live under their own cgroup, so they are told apart
# from engine A's (/docker/<id>) and can be found if dockerd B must be killed.
CGROUP_PARENT=/testbed-hostb
RUNTIME=/usr/local/sbin/runc-tb
PROBE_IMG=testbed.local/hostb-probe:1
PROBE_NAME=testbed-hostb-probe
PROBE_PORT=18080
UP_TIMEOUT=${TESTBED_HOSTB_UP_TIMEOUT:-120}
STOP_TIMEOUT=${TESTBED_HOSTB_STOP_TIMEOUT:-60}

die() { echo "second-host: ERROR: $*" >&2; exit 1; }
warn() { echo "second-host: warning: $*" >&2; }
dockerb() { docker -H "$HOST_URL" "$@"; }
now() { date +%s; }

# pid of dockerd B, if it runs (pidfile + a live process called dockerd).
b_pid() {
  local p
  p=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ $p =~ ^[0-9]+$ ]] && [[ -d /proc/$p ]] && [[ $(cat "/proc/$p/comm" 2>/dev/null) == dockerd ]] && echo "$p"
}
b_answers() { timeout 10 docker -H "$HOST_URL" info >/dev/null 2>&1; }
ns_ok() { [[ -e /run/netns/$NS ]] && ip -n "$NS" link show lo >/dev/null 2>&1; }

# TCP connect from the root namespace with perl (Essential in Debian; no ping
# or nc needed). Prints the first line the peer sends. Exit 0: connected;
# 2: refused (the host answered: reachable); 1: anything else.
tcp_probe() { # addr port
  perl -e '
    my ($a, $p) = @ARGV;
    $SIG{ALRM} = sub { print STDERR "timeout\n"; exit 1 }; alarm 3;
    socket(S, 2, 1, 0) or die "socket: $!\n";
    if (!connect(S, pack("SnC4x8", 2, $p, split(/\./, $a)))) {
      exit 2 if $!{ECONNREFUSED};
      print STDERR "connect: $!\n"; exit 1;
    }
    my $l = <S>; print defined $l ? $l : "";
    exit 0' "$1" "$2"
}

# Mounts below a directory (deepest first), e.g. overlays left by a killed dockerd.
unmount_below() { # dir
  local m
  findmnt -rn -o TARGET 2>/dev/null | awk -v d="$1/" 'index($0 "/", d) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "cannot unmount $m"
  done
}

# Cgroup directories of engine B (one per v1 controller, or the v2 one).
b_cgroups() {
  local d
  for d in /sys/fs/cgroup/*"$CGROUP_PARENT" /sys/fs/cgroup"$CGROUP_PARENT"; do
    [[ -d $d ]] && echo "$d"
  done
  return 0
}

# Everything engine B left running after dockerd B itself was killed: its
# containers (found by cgroup parent) and containerd/shims (found by network
# namespace). Killed by pid; engine A's processes match neither.
kill_leftovers() {
  local ino p d pids=()
  for d in $(b_cgroups); do
    while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  if [[ -e /run/netns/$NS ]]; then
    ino=$(stat -L -c %i "/run/netns/$NS" 2>/dev/null || true)
    for d in /proc/[0-9]*; do
      [[ $(readlink "$d/ns/net" 2>/dev/null) == "net:[$ino]" ]] && pids+=("${d#/proc/}")
    done
  fi
  ((${#pids[@]})) || return 0
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)   # v1 lists a pid once per controller
  warn "killing ${#pids[@]} leftover process(es) of engine B: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 1
}

up() {
  local t0 p deadline out started=
  t0=$(now)
  for c in ip nsenter findmnt dockerd docker perl; do
    command -v "$c" >/dev/null || die "$c not found"
  done
  [[ -x $RUNTIME ]] || die "$RUNTIME missing (run shared/env/docker-up.sh first)"

  # 1. network namespace and underlay veth
  if ! ns_ok; then
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
  fi
  ip -n "$NS" link set lo up
  if ! ip link show "$VETH_A" >/dev/null 2>&1 || ! ip -n "$NS" link show "$VETH_B" >/dev/null 2>&1; then
    ip link del "$VETH_A" 2>/dev/null || true
    ip link del "$VETH_B" 2>/dev/null || true          # a half-made pair left in the root ns
    ip -n "$NS" link del "$VETH_B" 2>/dev/null || true
    ip link add "$VETH_A" mtu "$MTU" type veth peer name "$VETH_B" mtu "$MTU" netns "$NS"
  fi
  ip link set "$VETH_A" mtu "$MTU"
  ip -n "$NS" link set "$VETH_B" mtu "$MTU"
  ip addr replace "$ADDR_A/$PREFIX" dev "$VETH_A"
  ip -n "$NS" addr replace "$ADDR_B/$PREFIX" dev "$VETH_B"
  ip link set "$VETH_A" up
  ip -n "$NS" link set "$VETH_B" up
  # engine B's default bridge
  ip -n "$NS" link show "$BRIDGE" >/dev/null 2>&1 || ip -n "$NS" link add "$BRIDGE" type bridge
  ip -n "$NS" addr replace "$BRIDGE_CIDR" dev "$BRIDGE"
  ip -n "$NS" link set "$BRIDGE" up

  # 2. dockerd B. nsenter, not `ip netns exec`: the latter remounts /sys and
  # hides the cgroup hierarchy ("Devices cgroup isn't mounted").
  mkdir -p "$RUN_DIR" "$EXEC_ROOT" "$DATA_ROOT"
  if [[ -z $(b_pid) ]]; then
    rm -f "$PIDFILE" "$SOCK"
    printf '{}\n' >"$CONFIG"
    echo "=== second-host: starting dockerd B at $(date -Is)" >>"$LOG"
    nohup nsenter --net="/run/netns/$NS" dockerd \
      --data-root "$DATA_ROOT" \
      --exec-root "$EXEC_ROOT" \
      -H "$HOST_URL" \
      --pidfile "$PIDFILE" \
      --config-file "$CONFIG" \
      --bridge "$BRIDGE" \
      --iptables=true \
      --cgroup-parent "$CGROUP_PARENT" \
      --add-runtime "tb=$RUNTIME" \
      --default-runtime tb \
      >>"$LOG" 2>&1 </dev/null &
    started=$!   # nohup and nsenter exec, so this is dockerd B itself
    disown || true
  fi
  deadline=$(( $(now) + UP_TIMEOUT ))
  until b_answers; do
    if [[ -z $(b_pid) ]] && ! { [[ -n $started ]] && kill -0 "$started" 2>/dev/null; }; then
      tail -n 20 "$LOG" >&2; die "dockerd B exited (log: $LOG)"
    fi
    (( $(now) < deadline )) || { tail -n 20 "$LOG" >&2; die "dockerd B did not answer within ${UP_TIMEOUT}s (log: $LOG)"; }
    sleep 0.5
  done

  # 3. the root namespace reaches host B (connected or refused both prove it)
  deadline=$(( $(now) + 10 ))
  until tcp_probe "$ADDR_B" "$PROBE_PORT" >/dev/null 2>&1 || [[ $? == 2 ]]; do
    (( $(now) < deadline )) || die "$ADDR_B is not reachable from the root namespace over $VETH_A"
    sleep 0.5
  done

  # 4. a port published by engine B on the underlay address answers from the
  # root namespace. The image is perl and its libraries from this host,
  # imported into engine B (no registry, nothing needed from engine A).
  if ! dockerb image inspect "$PROBE_IMG" >/dev/null 2>&1; then
    local d l
    d=$(mktemp -d)
    mkdir -p "$d/usr/bin" && cp /usr/bin/perl "$d/usr/bin/perl"
    for l in $(ldd /usr/bin/perl | grep -o '/[^ ]*' | sort -u); do cp -L --parents "$l" "$d/"; done
    tar -C "$d" -c . | dockerb import - "$PROBE_IMG" >/dev/null
    rm -rf "$d"
  fi
  dockerb rm -f "$PROBE_NAME" >/dev/null 2>&1 || true
  dockerb run -d --name "$PROBE_NAME" -p "$ADDR_B:$PROBE_PORT:8080" "$PROBE_IMG" /usr/bin/perl -e '
    socket(S, 2, 1, 0) or die "socket: $!";
    setsockopt(S, 1, 2, pack("l", 1));
    bind(S, pack("SnNx8", 2, 8080, 0)) or die "bind: $!";
    listen(S, 8) or die "listen: $!";
    while (accept(C, S)) { syswrite(C, "testbed-hostb-ok\n"); close(C) }' >/dev/null
  deadline=$(( $(now) + 20 ))
  out=
  until [[ $out == testbed-hostb-ok ]]; do
    if (( $(now) >= deadline )); then
      dockerb logs "$PROBE_NAME" >&2 2>&1 || true
      dockerb rm -f "$PROBE_NAME" >/dev/null 2>&1 || true
      die "port $ADDR_B:$PROBE_PORT published by engine B did not answer from the root namespace (last reply: '${out}')"
    fi
    sleep 0.3
    out=$(tcp_probe "$ADDR_B" "$PROBE_PORT" 2>/dev/null | tr -d '\r\n') || true
  done
  dockerb rm -f "$PROBE_NAME" >/dev/null

  p=$(b_pid) || true
  echo "second-host: ok (DOCKER_HOST=$HOST_URL, underlay $ADDR_A <-> $ADDR_B)"
  echo "second-host: dockerd B pid ${p:-?}, up in $(( $(now) - t0 ))s" >&2
}

down() {
  local purge=0 p deadline
  [[ ${1:-} == --purge ]] && purge=1
  [[ -z ${1:-} || $purge == 1 ]] || die "usage: $0 down [--purge]"

  p=$(b_pid) || true
  if [[ -n $p ]]; then
    kill -TERM "$p" 2>/dev/null || true
    deadline=$(( $(now) + STOP_TIMEOUT ))
    while [[ -d /proc/$p ]] && (( $(now) < deadline )); do sleep 0.5; done
    if [[ -d /proc/$p ]]; then
      warn "dockerd B (pid $p) still runs after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$p" 2>/dev/null || true
      sleep 1
    fi
  fi
  kill_leftovers
  unmount_below "$RUN_DIR"
  unmount_below "$DATA_ROOT"

  ip link del "$VETH_A" 2>/dev/null || true   # takes tbh-b with it
  ip link del "$VETH_B" 2>/dev/null || true   # in case a half-made pair is in the root ns
  [[ -e /run/netns/$NS ]] && { ip netns del "$NS" || warn "cannot delete netns $NS"; }
  local d
  for d in $(b_cgroups); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
  ((purge)) && rm -rf "$DATA_ROOT"
  echo "second-host: down$( ((purge)) && echo ' (data root purged)')"
}

env_lines() {
  echo "export TESTBED_HOSTB_DOCKER_HOST=$HOST_URL"
  echo "export TESTBED_HOSTB_ADDRESS=$ADDR_B"
  echo "export TESTBED_HOSTA_ADDRESS=$ADDR_A"
  echo "export TESTBED_HOSTB_NETNS=$NS"
}

root() { [[ $(id -u) == 0 ]] || die "must run as root"; }
case ${1:-} in
  up) root; up ;;
  down) root; shift; down "$@" ;;
  env) env_lines ;;
  *) echo "usage: $0 up | down [--purge] | env" >&2; exit 2 ;;
esac
