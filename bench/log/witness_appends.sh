#!/usr/bin/env bash
# Witnesses (SPEC §9, c2sp.org/tlog-witness): what do two witnesses cost the
# appends? ledgerd sends each new checkpoint to its witnesses at most once a
# --checkpoint-interval-ms (default 1000) and appends never wait for a round,
# so the appends/s should not move; the witnesses and the rounds still share
# the 2 cores and the disk with the appends. It also checks that the
# published checkpoint carries both cosignatures, and how far publication
# lags the ledger under that load (ledger_witness_lag_events in /metrics).
#
# The load: `wrk -t2 -c64 -d10s --latency -s bench/log/append.lua` (a new
# referral per request, a unique referral_id, area E08000002 with a
# partnership token), after a 2 s warm-up of the same, against
#   none        ledgerd without witnesses;
#   2 witnesses ledgerd --witness w1,URL1,VKEY1 --witness w2,URL2,VKEY2, two
#               `ledgerctl witness` processes on loopback (their own
#               directories and keys, made new for each run).
# Both with --append-rate 0 (the default per-credential rate would answer
# 429) and --log-level warn, each run on a fresh copy of one generated
# ledger, so every run starts from the same size. The runs are interleaved,
# none then 2 witnesses, REPS (3) times; the table gives the median and the
# range of each side and of the per-pair ratio.
#
# During each measured run /metrics is read every 0.5 s (for both sides, so
# the reads cost both the same): the largest ledger_witness_lag_events seen.
# After each witnessed run: the lag at the end of the load, how long until
# the lag is 0 again, and the cosignature lines of /log/checkpoint.
#
# Usage: bench/log/witness_appends.sh   (from anywhere; needs a built tree)
# Environment: BUILD_DIR (build), BIN_DIR (copy ledgerd and ledgerctl from
# there instead), REFERRALS (20000), REPS (3), DURATION (10s), WARMUP (2s),
# ORDER ("none witnessed": the order within each repetition; "witnessed
# none" checks whether going second helps), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
referrals=${REFERRALS:-20000}
reps=${REPS:-3}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
# shellcheck source=bench/log/lib.sh
source "$here/lib.sh"

start_work log-witness

print_machine
copy_binaries "$work/bin" "$build/api/ledgerd" "$build/tools/ledgerctl/ledgerctl"
echo "wrk -t2 -c64 -d$duration --latency -s bench/log/append.lua (warm-up $warmup)," \
  "$reps interleaved repetitions"
ledgerctl=$work/bin/ledgerctl

"$ledgerctl" generate --data "$work/pristine" --referrals "$referrals" --seed 7 \
  --from 2021-01-01 --to 2026-06-30 >"$work/generate.log"
echo "ledger: $(head -c 120 "$work/generate.log")"
write_tokens "$work/tokens.json"
log_vkey=$("$ledgerctl" key --data "$work/pristine")
echo "log key: $log_vkey"

# metric NAME [LABEL]: the value of NAME (with LABEL, e.g. witness="w1") in
# ledgerd's /metrics.
metric() {
  curl -sf "$base/metrics" | awk -v name="$1" -v label="${2:-}" '
    $1 == name || (label != "" && $1 == name "{" label "}") { print $2; exit }'
}

# start_witness N: a new witness w<N>; sets witness_url and witness_key.
start_witness() {
  local dir=$run/w$1
  start_bg "$run/w$1.log" "$ledgerctl" witness --data "$dir" --listen 127.0.0.1:0 \
    --log "$log_vkey" --name "witness.example/w$1"
  for _ in $(seq 100); do
    grep -q '^listening on ' "$run/w$1.log" && break
    kill -0 "$last_pid" 2>/dev/null || { cat "$run/w$1.log" >&2; return 1; }
    sleep 0.1
  done
  witness_key=$(sed -n 's/^cosigner key: //p' "$run/w$1.log")
  witness_url=$(sed -n 's#^listening on \(http://[^/]*\)/add-checkpoint$#\1#p' "$run/w$1.log")
  if [ -z "$witness_key" ] || [ -z "$witness_url" ]; then
    echo "witness w$1 did not say its key and address:" >&2
    cat "$run/w$1.log" >&2
    return 1
  fi
}

# The runs.
results=$work/results.tsv
: >"$results"
for rep in $(seq "$reps"); do
  for side in ${ORDER:-none witnessed}; do
    run=$work/run-$rep-$side
    mkdir -p "$run"
    cp -a "$work/pristine" "$run/data"
    # The copy's pages written back now, not during the measured run.
    sync
    witness_flags=()
    if [ "$side" = witnessed ]; then
      start_witness 1
      w1_pid=$last_pid
      witness_flags+=(--witness "w1,$witness_url,$witness_key")
      start_witness 2
      w2_pid=$last_pid
      witness_flags+=(--witness "w2,$witness_url,$witness_key")
    fi
    port=$(free_port)
    base=http://127.0.0.1:$port
    start_bg "$run/ledgerd.log" "$work/bin/ledgerd" --data "$run/data" --tokens "$work/tokens.json" \
      --address 127.0.0.1 --port "$port" --log-level warn --append-rate 0 "${witness_flags[@]}"
    ledgerd_pid=$last_pid
    # With witnesses, /log/checkpoint answers 503 until the first round.
    wait_http "$base/log/checkpoint" "$ledgerd_pid" 20
    wrk -t2 -c64 -d"$warmup" -s "$here/append.lua" "$base" -- "warm-$rep-$side" >/dev/null

    # The measured run, with /metrics read every 0.5 s beside it.
    start_bg "$run/lag.txt" bash -c "while :; do
        curl -sf '$base/metrics' | awk '/^ledger_witness_lag_events/ { if (\$2 > m) m = \$2 } END { print m + 0 }'
        sleep 0.5
      done"
    poller_pid=$last_pid
    load1=$(cut -d' ' -f1 /proc/loadavg)
    wrk -t2 -c64 -d"$duration" --latency -s "$here/append.lua" "$base" -- "run-$rep-$side" >"$run/wrk.txt"
    stop_pid "$poller_pid"
    kill -0 "$ledgerd_pid" 2>/dev/null || { echo "ledgerd exited during the run" >&2; exit 1; }
    read -r rps p50 p99 non errors < <(wrk_summary "$run/wrk.txt")
    max_lag=$(sort -n "$run/lag.txt" | tail -1)
    max_lag=${max_lag:-0}

    end_lag=- catch_up=- cosigs=- published=- head=-
    if [ "$side" = witnessed ]; then
      l1=$(metric ledger_witness_lag_events 'witness="w1"')
      l2=$(metric ledger_witness_lag_events 'witness="w2"')
      end_lag=$((l1 > l2 ? l1 : l2))
      # How long until both witnesses have cosigned everything durable.
      t0=$(date +%s%N)
      for _ in $(seq 100); do
        l1=$(metric ledger_witness_lag_events 'witness="w1"')
        l2=$(metric ledger_witness_lag_events 'witness="w2"')
        [ "$l1" = 0 ] && [ "$l2" = 0 ] && break
        sleep 0.1
      done
      catch_up=$(( ($(date +%s%N) - t0) / 1000000 ))
      [ "$l1" = 0 ] && [ "$l2" = 0 ] || catch_up=">10000"
      curl -sf "$base/log/checkpoint" >"$run/checkpoint.txt"
      cosigs=$(grep -c '^— witness\.example/w[12] ' "$run/checkpoint.txt" || true)
      published=$(sed -n 2p "$run/checkpoint.txt")
      head=$(metric ledger_head_size)
      failures=$(( $(metric ledger_witness_failures_total 'witness="w1"') +
                   $(metric ledger_witness_failures_total 'witness="w2"') ))
      if [ "$cosigs" != 2 ] || [ "$published" != "$head" ]; then
        echo "rep $rep: /log/checkpoint has $cosigs cosignatures, size $published; the ledger $head" >&2
      fi
      [ "$failures" = 0 ] || echo "rep $rep: $failures witness submissions failed" >&2
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$side" "$rps" "$p50" \
      "$p99" "$non" "$errors" "$max_lag" "$end_lag" "$catch_up" "$cosigs" "$published" "$head" \
      "$load1" >>"$results"
    printf 'rep %s  %-9s %9s appends/s  p50 %6.2f ms  p99 %6.2f ms  non-2xx %s  socket errors %s  max lag %s  lag at end %s  lag 0 after %s ms  cosignatures %s (checkpoint %s, ledger %s)  (load avg %s)\n' \
      "$rep" "$side" "$rps" "$p50" "$p99" "$non" "$errors" "$max_lag" "$end_lag" "$catch_up" \
      "$cosigs" "$published" "$head" "$load1" >&2

    stop_pid "$ledgerd_pid"
    if [ "$side" = witnessed ]; then
      stop_pid "$w1_pid"
      stop_pid "$w2_pid"
    fi
    rm -rf "$run/data"
  done
done

python3 - "$results" "$reps" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def get(side, col):
    return [float(r[col]) for r in rows if r[1] == side]
def fmt(xs, f):
    return f"{f(statistics.median(xs))} [{f(min(xs))}–{f(max(xs))}]"
n0 = lambda x: f"{x:,.0f}"
ms = lambda x: f"{x:.2f}" if x < 10 else f"{x:.1f}"
r2 = lambda x: f"{x:.2f}"
none, wit = get("none", 2), get("witnessed", 2)
print()
print(f"median [range] of {sys.argv[2]} interleaved runs each; latency in ms")
print("| ledgerd | appends/s | p50 | p99 | with / without |")
print("|---|---|---|---|---|")
print(f"| no witnesses | {fmt(none, n0)} | {fmt(get('none', 3), ms)} | {fmt(get('none', 4), ms)} | |")
print(f"| 2 witnesses | {fmt(wit, n0)} | {fmt(get('witnessed', 3), ms)} | {fmt(get('witnessed', 4), ms)} | "
      f"{fmt([w / n for w, n in zip(wit, none)], r2)} |")
print()
print("| witnessed run | largest lag seen (events, /metrics every 0.5 s) | lag at the end of the load | lag 0 after (ms) | cosignature lines in /log/checkpoint | its size / the ledger's |")
print("|---|---|---|---|---|---|")
for r in rows:
    if r[1] == "witnessed":
        print(f"| {r[0]} | {int(r[7]):,} | {int(r[8]):,} | {r[9]} | {r[10]} | {int(r[11]):,} / {int(r[12]):,} |")
print()
print(f"non-2xx answers and socket errors, all runs: {sum(int(r[5]) + int(r[6]) for r in rows)}")
PY
