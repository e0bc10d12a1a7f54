# shellcheck shell=bash
# Helpers shared by the scripts of bench/log/.
# Sourced, not run. Needs bash 4.4+, curl, wrk, python3.

# Every process a script starts is recorded here; `cleanup_processes` (from
# the script's EXIT trap) stops them, each by its own pid.
started_pids=()

# start_bg LOG CMD ARGS...: runs CMD in the background, stdout and stderr
# to LOG; sets $last_pid and records it.
start_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  last_pid=$!
  started_pids+=("$last_pid")
}

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL. Quiet if gone.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup_processes() {
  local pid
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  started_pids=()
}

# A loopback TCP port free at the time of asking.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL PID [SECONDS]: until URL answers 200, or fail when PID
# exits or SECONDS (10) pass.
wait_http() {
  local url=$1 pid=$2 seconds=${3:-10}
  for _ in $(seq $((seconds * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before $url answered" >&2
      return 1
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" = 200 ] && return 0
    sleep 0.1
  done
  echo "$url did not answer 200 within $seconds s" >&2
  return 1
}

# wrk_summary FILE: "req/s p50_ms p99_ms non_2xx socket_errors" from the
# output of `wrk --latency`.
wrk_summary() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return v + 0
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non = $NF }
    /Socket errors:/ { err = $4 + $6 + $8 + $10 }
    END {
      if (rps == "") exit 1
      printf "%s %.3f %.3f %d %d\n", rps, p50, p99, non + 0, err + 0
    }' "$1"
}

# The machine, for the record.
print_machine() {
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    "(family $(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
  echo "ram: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# copy_binaries DIR NAME...: copies each build/... binary named into DIR,
# so that a rebuild of the tree during the run does not change what runs.
# With BIN_DIR set, the binaries of those names are taken from there instead
# (copies made once for several runs). Prints the copies' sha256 (first 12
# hex digits).
copy_binaries() {
  local dir=$1 path
  shift
  mkdir -p "$dir"
  for path in "$@"; do
    if [ -n "${BIN_DIR:-}" ]; then path=$BIN_DIR/$(basename "$path"); fi
    if [ ! -x "$path" ]; then
      echo "missing $path: build it first (tools/test.sh)" >&2
      return 1
    fi
    cp -p "$path" "$dir/"
    echo "binary $(basename "$path"): $(sha256sum "$dir/$(basename "$path")" | cut -c1-12)" \
      "(built $(date -u -r "$path" '+%Y-%m-%d %H:%M'))"
  done
}

# The tokens file: names, roles and the SHA-256 digests of two tokens,
# "r-token" (regulator) and "p-token" (partnership for area E08000002), in
# the format tools/run.sh writes.
write_tokens() {
  local digest_r digest_p
  digest_r=$(printf '%s' r-token | sha256sum | cut -d' ' -f1)
  digest_p=$(printf '%s' p-token | sha256sum | cut -d' ' -f1)
  cat >"$1" <<JSON
{"tokens": [
  {"name": "bench-regulator", "role": "regulator", "sha256": "$digest_r"},
  {"name": "bench-partnership", "role": "partnership", "areas": ["E08000002"], "sha256": "$digest_p"}
]}
JSON
}

# Makes the run's work directory ($work, under /tmp, named PREFIX-...) and
# sets the exit trap: every process started is stopped and the directory
# removed (kept, and named, with KEEP=1).
start_work() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  trap 'cleanup_processes; if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi' EXIT
  trap 'exit 130' INT TERM
}

# setup_append_bench PREFIX BUILD REFERRALS REPS DURATION: the start of a
# bench of appends under wrk: the work directory, the machine, copies of the
# binaries of BUILD, a generated ledger of REFERRALS referrals in
# $work/pristine, and the tokens file.
setup_append_bench() {
  local build=$2 referrals=$3 reps=$4 duration=$5
  start_work "$1"
  print_machine
  copy_binaries "$work/bin" "$build/api/ledgerd" "$build/tools/ledgerctl/ledgerctl"
  echo "wrk -t2 -c64 -d$duration --latency -s bench/log/append.lua, $reps interleaved repetitions"
  "$work/bin/ledgerctl" generate --data "$work/pristine" --referrals "$referrals" --seed 7 \
    --from 2021-01-01 --to 2026-06-30 >"$work/generate.log"
  echo "ledger: $(head -c 120 "$work/generate.log")"
  write_tokens "$work/tokens.json"
}
