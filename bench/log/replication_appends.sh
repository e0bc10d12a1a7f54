#!/usr/bin/env bash
# Replication: what does a standby cost the appends? The load is `wrk -t2
# -c64 -d$DURATION --latency -s bench/log/append.lua` on the primary
# (--append-rate 0, --log-level warn) in three modes: no standby; a standby
# on the same machine (a second ledgerd, --standby-of) with --replication
# async; and the same with --replication sync (each append answered once
# the standby holds it). Interleaved, REPS (3) times, each run on fresh
# copies of one generated ledger (the standby starts from the same copy, so
# it copies only the run's appends). Prints appends/s, p50 and p99 of each
# run, and how far behind the standby was when the load ended.
#
# Usage: bench/log/replication_appends.sh
# Environment: BUILD_DIR (build), BIN_DIR, REFERRALS (20000), REPS (3),
# DURATION (10s), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
referrals=${REFERRALS:-20000}
reps=${REPS:-3}
duration=${DURATION:-10s}
# shellcheck source=bench/log/lib.sh
source "$here/lib.sh"

setup_append_bench log-replication "$build" "$referrals" "$reps" "$duration"

# size_of URL: the ledger's size from its /healthz.
size_of() {
  curl -s "$1/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["size"])'
}

printf '| rep | standby | appends/s | p50 ms | p99 ms | standby behind at the end |\n'
printf '|---|---|---|---|---|---|\n'
for rep in $(seq "$reps"); do
  for mode in none async sync; do
    run=$work/run-$rep-$mode
    mkdir -p "$run"
    cp -a "$work/pristine" "$run/primary"
    cp -a "$work/pristine" "$run/standby"
    sync
    p_port=$(free_port)
    s_port=$(free_port)
    base=http://127.0.0.1:$p_port
    standby_url=http://127.0.0.1:$s_port
    extra=()
    [ "$mode" != none ] && extra=(--standby "bench-regulator=$standby_url" --replication "$mode")
    start_bg "$run/primary.log" "$work/bin/ledgerd" --data "$run/primary" \
      --tokens "$work/tokens.json" --port "$p_port" --log-level warn --append-rate 0 "${extra[@]}"
    primary_pid=$last_pid
    wait_http "$base/healthz" "$primary_pid" 20
    standby_pid=
    if [ "$mode" != none ]; then
      start_bg "$run/standby.log" "$work/bin/ledgerd" --data "$run/standby" \
        --tokens "$work/tokens.json" --port "$s_port" --log-level warn \
        --standby-of "$base" --token r-token --advertise "$standby_url"
      standby_pid=$last_pid
      wait_http "$standby_url/healthz" "$standby_pid" 20
    fi
    wrk -t2 -c64 -d"$duration" --latency -s "$here/append.lua" "$base" -- "run-$rep-$mode" \
      >"$run/wrk.txt" || true
    behind=-
    if [ -n "$standby_pid" ]; then
      behind=$(($(size_of "$base") - $(size_of "$standby_url")))
      stop_pid "$standby_pid"
    fi
    read -r rps p50 p99 non _ < <(wrk_summary "$run/wrk.txt")
    stop_pid "$primary_pid"
    [ "$non" = 0 ] || echo "run $rep $mode: $non answers were not 2xx" >&2
    printf '| %s | %s | %s | %s | %s | %s |\n' "$rep" "$mode" "$rps" "$p50" "$p99" "$behind"
    rm -rf "$run/primary" "$run/standby"
  done
done
