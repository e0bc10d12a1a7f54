#!/usr/bin/env bash
# Live backup: what does `ledgerctl backup` cost the appends it
# runs beside? The load is `wrk -t2 -c64 -d$DURATION --latency -s
# bench/log/append.lua` on ledgerd (--append-rate 0, --log-level warn); in
# one run of each pair a full backup of the ledger (ledgerctl backup --data
# DIR --to B, read-only beside ledgerd) starts 1 s into the load; in the
# other, none. Interleaved, REPS (3) times, each run on a fresh copy of one
# generated ledger. Prints appends/s, p50 and p99 of each, the ratio per
# pair, and how long each backup took and how many events it held.
#
# Usage: bench/log/backup_appends.sh
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

setup_append_bench log-backup "$build" "$referrals" "$reps" "$duration"

printf '| rep | backup | appends/s | p50 ms | p99 ms | backup took | events backed up |\n'
printf '|---|---|---|---|---|---|---|\n'
for rep in $(seq "$reps"); do
  for side in none backup; do
    run=$work/run-$rep-$side
    mkdir -p "$run"
    cp -a "$work/pristine" "$run/data"
    sync
    port=$(free_port)
    base=http://127.0.0.1:$port
    start_bg "$run/ledgerd.log" "$work/bin/ledgerd" --data "$run/data" --tokens "$work/tokens.json" \
      --address 127.0.0.1 --port "$port" --log-level warn --append-rate 0
    ledgerd_pid=$last_pid
    wait_http "$base/healthz" "$ledgerd_pid" 20
    start_bg "$run/wrk.txt" wrk -t2 -c64 -d"$duration" --latency -s "$here/append.lua" "$base" \
      -- "run-$rep-$side"
    wrk_pid=$last_pid
    took=- held=-
    if [ "$side" = backup ]; then
      sleep 1
      t0=$(date +%s%N)
      "$work/bin/ledgerctl" backup --data "$run/data" --to "$run/backup" >"$run/backup.txt"
      took="$(( ($(date +%s%N) - t0) / 1000000 )) ms"
      held=$(sed -n 's/.*: \([0-9]*\) events .*/\1/p' "$run/backup.txt" | head -1)
    fi
    wait "$wrk_pid" || true
    read -r rps p50 p99 _ _ < <(wrk_summary "$run/wrk.txt")
    stop_pid "$ledgerd_pid"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$rep" "$side" "$rps" "$p50" "$p99" "$took" "$held"
    rm -rf "$run/data" "$run/backup"
  done
done
