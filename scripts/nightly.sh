#!/usr/bin/env bash
# Nightly scalability sweep for a large host.
#
# Every night gets its own dated directory under $TESTBED_NIGHTLY_ROOT:
#   <root>/<YYYY-MM-DD>/sweep/     the sweep (cells, report/, manifest.json)
#   <root>/<YYYY-MM-DD>/logs/      testbed's output, one file per step
#   <root>/<YYYY-MM-DD>/status     exit code and wall time of each step
# and <root>/latest points at the last night. A night that was interrupted
# (crash, reboot, Ctrl-C) resumes when the script runs again the same day:
# complete cells are skipped and the partial one continues.
#
# The sweep is compared cell by cell against a baseline sweep
# ($TESTBED_NIGHTLY_BASELINE, default <root>/baseline/sweep) with the
# thresholds file; the script's exit code is the comparison's (1 on a
# breach or a missing cell), or the sweep's when it failed, so cron mail or
# a systemd OnFailure= unit reports it. Without a baseline the first
# successful night's sweep becomes the baseline.
#
# Environment (all optional):
#   TESTBED_BIN                the testbed binary (default: testbed on PATH)
#   TESTBED_NIGHTLY_SWEEP      sweep file (default scenarios/sweep/nightly-24.yaml)
#   TESTBED_NIGHTLY_ROOT       results root (default /var/lib/testbed/nightly)
#   TESTBED_NIGHTLY_BASELINE   baseline sweep directory
#   TESTBED_NIGHTLY_THRESHOLDS thresholds YAML (default: none, compare only)
#   TESTBED_NIGHTLY_TEARDOWN   1 to remove the lab after the sweep (default 0)
#   TESTBED_NIGHTLY_KEEP_DAYS  delete nights older than this (default 60, 0 keeps all)
#   TESTBED_NIGHTLY_DATE       override the night's date (YYYY-MM-DD)
# Run it from the repository root (the shipped topologies' chart paths are
# relative to it); the unit files in docs/nightly.md set WorkingDirectory.
set -euo pipefail

bin=${TESTBED_BIN:-testbed}
sweep_file=${TESTBED_NIGHTLY_SWEEP:-scenarios/sweep/nightly-24.yaml}
root=${TESTBED_NIGHTLY_ROOT:-/var/lib/testbed/nightly}
baseline=${TESTBED_NIGHTLY_BASELINE:-$root/baseline/sweep}
thresholds=${TESTBED_NIGHTLY_THRESHOLDS:-}
teardown=${TESTBED_NIGHTLY_TEARDOWN:-0}
keep_days=${TESTBED_NIGHTLY_KEEP_DAYS:-60}
night=${TESTBED_NIGHTLY_DATE:-$(date -u +%F)}

if ! command -v "$bin" >/dev/null 2>&1; then
  echo "nightly: testbed binary $bin not found (set TESTBED_BIN)" >&2
  exit 2
fi
if [[ ! -f $sweep_file ]]; then
  echo "nightly: sweep file $sweep_file not found (run from the repository root or set TESTBED_NIGHTLY_SWEEP)" >&2
  exit 2
fi

dir=$root/$night
mkdir -p "$dir/logs"
ln -sfn "$night" "$root/latest"
status=$dir/status

# One nightly at a time: a long sweep must not overlap the next night's.
exec 9>"$root/.lock"
if ! flock -n 9; then
  echo "nightly: another nightly holds $root/.lock; not starting" >&2
  exit 3
fi

step() { # step NAME CMD...: run, log, record exit code and wall time
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "== $(date -u +%FT%TZ) $name: $*" | tee -a "$dir/logs/nightly.log"
  set +e
  "$@" >>"$dir/logs/$name.log" 2>&1
  rc=$?
  set -e
  echo "$name rc=$rc wall=$(( $(date +%s) - t0 ))s at=$(date -u +%FT%TZ)" | tee -a "$status" "$dir/logs/nightly.log"
  return "$rc"
}

step version "$bin" version || true
step doctor "$bin" doctor || echo "nightly: doctor reported problems (see logs/doctor.log); sweeping anyway" >&2

args=(sweep "$sweep_file" --output "$dir/sweep")
if [[ $teardown == 1 ]]; then
  args+=(--teardown)
fi
rc=0
step sweep "$bin" "${args[@]}" || rc=$?
if (( rc != 0 )); then
  echo "nightly: sweep failed with exit code $rc (logs in $dir/logs/sweep.log); run again to resume" >&2
  exit "$rc"
fi

if [[ -d $baseline ]]; then
  cargs=(sweep compare "$baseline" "$dir/sweep")
  [[ -n $thresholds ]] && cargs+=(--thresholds "$thresholds")
  step compare "$bin" "${cargs[@]}" || rc=$?
  "$bin" sweep compare "$baseline" "$dir/sweep" -o json >"$dir/compare.json" 2>/dev/null || true
else
  echo "nightly: no baseline at $baseline; this night's sweep is copied there and becomes the baseline" | tee -a "$dir/logs/nightly.log"
  mkdir -p "$(dirname "$baseline")"
  cp -a "$dir/sweep" "$baseline"
fi

if [[ $keep_days -gt 0 ]]; then
  find "$root" -mindepth 1 -maxdepth 1 -type d -name '20??-??-??' -mtime "+$keep_days" -print -exec rm -rf {} + \
    >>"$dir/logs/nightly.log" 2>&1 || true
fi
echo "nightly $night: exit $rc; report $dir/sweep/report/report.md" | tee -a "$dir/logs/nightly.log"
exit "$rc"
