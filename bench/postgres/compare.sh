#!/usr/bin/env bash
# The ledger against the obvious alternative, PostgreSQL 15, in one run:
#   1. durable appends from 16 clients: the ledger's BM_DurableAppend with 16
#      appender threads, against pgbench with 16 clients running append.sql
#      (an append-only table, the same SHA-256 hash chain, stream and
#      idempotency indexes, synchronous_commit=on);
#   2. the fairness and waiting-time views of 2025 over the same 1 million
#      events: the projections' views (BM_Fairness/0, BM_WaitingTimes/0),
#      against fairness.sql and waiting_times.sql run by psql.
# Starts a throwaway cluster on 127.0.0.1:55432 in a temporary directory on
# the same filesystem as the ledger's, and removes it at the end. Prints the
# results as a Markdown table. Needs a built tree (tools/test.sh) and root
# (to run PostgreSQL as its own user; postgresql-15 is installed if missing).
# Environment: BUILD_DIR (build), APPEND_SECONDS (20), VIEW_RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/postgres" ]; then
  apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15
fi
work=$(mktemp -d /tmp/pg-compare-XXXXXX)
chown postgres "$work"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w start -o \
  "-h 127.0.0.1 -p 55432 -k $work -c synchronous_commit=on -c fsync=on -c shared_buffers=2GB -c work_mem=256MB -c max_wal_size=8GB" >/dev/null
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql() { command psql -h 127.0.0.1 -p 55432 -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
json_field() { python3 -c "import json,sys; b=[x for x in json.load(sys.stdin)['benchmarks'] if x['name']=='$1']; print(b[0]['$2'])"; }

psql -f bench/postgres/schema.sql

# 1. Durable appends from 16 clients.
seconds=${APPEND_SECONDS:-20}
echo "appends: PostgreSQL, 16 clients, $seconds s ..." >&2
pg_tps=$("$pgbin/pgbench" -h 127.0.0.1 -p 55432 -U postgres -n -c 16 -j 2 -T "$seconds" \
  -f bench/postgres/append.sql postgres | awk '/^tps = .*without initial connection time/ {print $3}')
pg_chain=$(psql -At -c "SELECT count(*) FROM events")
echo "appends: ledger, 16 appender threads ..." >&2
ledger_aps=$("$build/bench/ledger_bench" --benchmark_filter='BM_DurableAppend/real_time/threads:16$' \
  --benchmark_min_time="$seconds" --benchmark_format=json 2>/dev/null |
  json_field BM_DurableAppend/real_time/threads:16 items_per_second)

# 2. Views over the same 1 million events: the benchmark ledger, exported
# and loaded into PostgreSQL.
echo "views: ledger (generating the benchmark ledger on first use) ..." >&2
views_json=$("$build/bench/projections_bench" --benchmark_filter='BM_(Fairness|WaitingTimes)/0$' \
  --benchmark_format=json 2>/dev/null)
ledger_fair=$(echo "$views_json" | json_field BM_Fairness/0 real_time)
ledger_wait=$(echo "$views_json" | json_field BM_WaitingTimes/0 real_time)
bench_ledger=${BENCH_LEDGER:-/tmp/rehab-bench-200000}
echo "views: loading $bench_ledger into PostgreSQL ..." >&2
"$build/tools/ledgerctl/ledgerctl" export --data "$bench_ledger" > "$work/events.ndjson"
chmod a+r "$work/events.ndjson"
psql -c "TRUNCATE events" -c "CREATE TABLE raw (j jsonb)" \
  -c "\\copy raw FROM '$work/events.ndjson' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" \
  -c "INSERT INTO events SELECT (j->>'seq')::bigint, j->>'referral_id', j->>'type',
        (j->>'occurred_at')::timestamptz, (j->>'recorded_at')::timestamptz, j->>'idempotency_key',
        j->'data', decode(j->>'hash', 'hex') FROM raw" \
  -c "DROP TABLE raw" -c "VACUUM ANALYZE events"
events=$(psql -At -c "SELECT count(*) FROM events")
runs=${VIEW_RUNS:-3}
median_ms() {  # the median wall time of `psql -f $1` over $runs runs
  local times=()
  for _ in $(seq "$runs"); do
    local t0; t0=$(now_ms)
    psql -f "$1" >/dev/null
    times+=($(( $(now_ms) - t0 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "views: PostgreSQL, $runs runs each ..." >&2
pg_fair=$(median_ms bench/postgres/fairness.sql)
pg_wait=$(median_ms bench/postgres/waiting_times.sql)

# The same figures? England's decisions and refusals, both ways.
sql_england=$(psql -At -F/ -c "SELECT count(*), count(*) FILTER (WHERE type = 'referral.refused') FROM (
        SELECT DISTINCT ON (referral_id) referral_id, type, occurred_at FROM events
         WHERE type IN ('funding.approved', 'referral.refused') ORDER BY referral_id, seq) f
       WHERE occurred_at >= '2025-01-01' AND occurred_at < '2026-01-01'")
ledger_england=$("$build/tools/ledgerctl/ledgerctl" replay --data "$bench_ledger" --view fairness \
  --from 2025-01-01 --to 2026-01-01 |
  python3 -c "import json,sys; e=json.load(sys.stdin)['england']; print(f\"{e['decisions']}/{e['refused']}\")")
echo "England's 2025 decisions/refused: ledger $ledger_england, SQL $sql_england" >&2

python3 - "$pg_tps" "$ledger_aps" "$pg_chain" "$events" "$ledger_fair" "$pg_fair" "$ledger_wait" "$pg_wait" <<'PY'
import sys
pg_tps, ledger_aps, pg_rows, events, lf, pf, lw, pw = map(float, sys.argv[1:])
print(f"| measure | ledger | PostgreSQL 15 | ledger / PostgreSQL |")
print(f"|---|---|---|---|")
print(f"| durable appends, 16 clients | {ledger_aps:,.0f} events/s | {pg_tps:,.0f} events/s ({pg_rows:,.0f} rows chained) | {ledger_aps / pg_tps:.1f}x |")
print(f"| fairness view of 2025, {events:,.0f} events | {lf:.0f} ms | {pf:.0f} ms | {pf / lf:.1f}x faster |")
print(f"| waiting-times view of 2025, {events:,.0f} events | {lw:.0f} ms | {pw:.0f} ms | {pw / lw:.1f}x faster |")
PY
