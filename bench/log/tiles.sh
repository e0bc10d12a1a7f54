#!/usr/bin/env bash
# Transparency-log reads (SPEC §9): how fast does ledgerd serve what a
# verifier or a mirror fetches, against nginx serving the same bytes from
# disk? A hash tile never changes once full, so the obvious alternative to
# serving it from the ledger is a static file behind a plain web server, and
# the issue's target is at least half of that (ours / nginx >= 0.5).
#
# What it measures, each with `wrk -t2 -c64 -d10s --latency` after a 2 s
# warm-up of the same load:
#   tile 0/000   GET /log/tile/0/000, one full level-0 hash tile (8 KiB): the
#                256 leaf hashes of events 1-256;
#   tiles x200   GET of the first 200 full level-0 tiles in turn (Lua script
#                bench/log/tiles.lua), so it is not one tile held hot;
#   tile 1/000   GET /log/tile/1/000, the one full level-1 tile (nodes at
#                tree level 8, which the ledger stores; a level-0 tile is
#                made from the events, levels 0-3 not being stored);
#   checkpoint   GET /log/checkpoint, the signed note of the tree head (no
#                witnesses: ledgerd signs it on each request).
# against
#   ledgerd      the copied build/api/ledgerd on a generated ledger
#                (--log-level warn so logging does not dominate; default
#                --threads 2);
#   nginx        Debian's nginx-light (/usr/sbin/nginx) serving a directory
#                tree that mirrors the same paths, filled once with curl from
#                ledgerd (byte-identical bodies): worker_processes 2 to match
#                ledgerd's 2 threads, sendfile, keep-alive (keepalive_requests
#                raised so wrk's connections are not closed every 1,000
#                requests), access_log off, no open_file_cache, the same
#                Cache-Control headers ledgerd sends.
# The machine has 2 cores shared by wrk and the server under test, so the
# figures are only ever read as ratios to nginx measured in the same run.
# Runs are interleaved, ours then nginx for each load, REPS (3) times, and
# the table gives the median and the range of each side and of the
# per-pair ratio ours / nginx.
#
# Usage: bench/log/tiles.sh   (from anywhere; needs a built tree)
# Environment: BUILD_DIR (build), REFERRALS (20000: 109,442 events,
# 427 full level-0 tiles), TILES (200), REPS (3), DURATION (10s), WARMUP
# (2s), BIN_DIR (copy ledgerd and ledgerctl from there instead of the build
# tree), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
referrals=${REFERRALS:-20000}
tiles=${TILES:-200}
reps=${REPS:-3}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
# shellcheck source=bench/log/lib.sh
source "$here/lib.sh"

start_work log-tiles

print_machine
copy_binaries "$work/bin" "$build/api/ledgerd" "$build/tools/ledgerctl/ledgerctl"
echo "nginx: $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')"
echo "wrk -t2 -c64 -d$duration --latency (warm-up $warmup), $reps interleaved repetitions"

# 1. The ledger, its tokens and ledgerd.
"$work/bin/ledgerctl" generate --data "$work/data" --referrals "$referrals" --seed 7 \
  --from 2021-01-01 --to 2026-06-30 >"$work/generate.log"
echo "ledger: $(head -c 120 "$work/generate.log")"
write_tokens "$work/tokens.json"
ours_port=$(free_port)
start_bg "$work/ledgerd.log" "$work/bin/ledgerd" --data "$work/data" --tokens "$work/tokens.json" \
  --address 127.0.0.1 --port "$ours_port" --log-level warn
ledgerd_pid=$last_pid
ours="http://127.0.0.1:$ours_port"
wait_http "$ours/log/checkpoint" "$ledgerd_pid"
size=$(curl -sf "$ours/log/checkpoint" | sed -n 2p)
if [ "$size" -lt $((tiles * 256)) ]; then
  echo "the ledger has $size events, fewer than $tiles full tiles: raise REFERRALS" >&2
  exit 1
fi

# 2. The same bytes on disk for nginx: the tiles and the checkpoint, fetched
# once into a tree that mirrors the paths.
tile_path() {  # 1234 -> x001/234 (c2sp.org/tlog-tiles)
  local n=$1 s
  s=$(printf '%03d' $((n % 1000)))
  n=$((n / 1000))
  while [ "$n" -gt 0 ]; do
    s=$(printf 'x%03d' $((n % 1000)))/$s
    n=$((n / 1000))
  done
  echo "$s"
}
www=$work/www
fetch() {  # fetch PATH BYTES: GET $ours$PATH into $www$PATH, checking its size
  mkdir -p "$(dirname "$www$1")"
  curl -sf -o "$www$1" "$ours$1"
  if [ -n "${2:-}" ] && [ "$(stat -c %s "$www$1")" != "$2" ]; then
    echo "$1: $(stat -c %s "$www$1") bytes, not $2" >&2
    exit 1
  fi
}
for i in $(seq 0 $((tiles - 1))); do fetch "/log/tile/0/$(tile_path "$i")" 8192; done
fetch /log/tile/1/000 8192
fetch /log/checkpoint
echo "mirrored for nginx: $tiles level-0 tiles, /log/tile/1/000, /log/checkpoint (tree size $size)"

# 3. nginx, in the foreground of its own process (daemon off, started in the
# background here so the trap can stop it), in a prefix of its own.
nginx_port=$(free_port)
prefix=$work/nginx
mkdir -p "$prefix/logs" "$prefix/tmp"
user_line=""
if [ "$(id -u)" = 0 ]; then
  # Workers run as nobody: the tree they serve must be readable to them.
  user_line="user nobody $(id -gn nobody);"
  chmod 755 "$work"
  chmod -R a+rX "$www"
fi
cat >"$prefix/nginx.conf" <<CONF
$user_line
daemon off;
worker_processes 2;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_body_temp_path $prefix/tmp;
  proxy_temp_path $prefix/tmp;
  fastcgi_temp_path $prefix/tmp;
  uwsgi_temp_path $prefix/tmp;
  scgi_temp_path $prefix/tmp;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port;
    root $www;
    location /log/tile/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location = /log/checkpoint {
      default_type "text/plain; charset=utf-8";
      add_header Cache-Control "public, max-age=1";
    }
  }
}
CONF
# nginx takes an environment variable named NGINX as sockets inherited.
start_bg "$prefix/stdout.log" env -u NGINX "$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf"
nginx_pid=$last_pid
peer="http://127.0.0.1:$nginx_port"
wait_http "$peer/log/checkpoint" "$nginx_pid"
for p in /log/tile/0/000 "/log/tile/0/$(tile_path $((tiles - 1)))" /log/tile/1/000 /log/checkpoint; do
  if ! cmp -s <(curl -sf "$ours$p") <(curl -sf "$peer$p"); then
    echo "$p differs between ledgerd and nginx" >&2
    exit 1
  fi
done

# 4. The runs, interleaved: for each repetition and load, ours then nginx.
loads=("tile 0/000" "tiles x$tiles" "tile 1/000" "checkpoint")
wrk_args() {  # wrk_args LOAD BASE_URL: the URL and script for LOAD
  case $1 in
    "tile 0/000") echo "$2/log/tile/0/000" ;;
    "tiles x"*) echo "-s $here/tiles.lua $2 -- $tiles" ;;
    "tile 1/000") echo "$2/log/tile/1/000" ;;
    checkpoint) echo "$2/log/checkpoint" ;;
  esac
}
results=$work/results.tsv
: >"$results"
for rep in $(seq "$reps"); do
  for load in "${loads[@]}"; do
    for side in ours nginx; do
      if [ "$side" = ours ]; then base=$ours; pid=$ledgerd_pid; else base=$peer; pid=$nginx_pid; fi
      # shellcheck disable=SC2046  # the arguments split on purpose
      wrk -t2 -c64 -d"$warmup" $(wrk_args "$load" "$base") >/dev/null
      out=$work/wrk-$rep-${load//[ \/]/_}-$side.txt
      load1=$(cut -d' ' -f1 /proc/loadavg)
      # shellcheck disable=SC2046
      wrk -t2 -c64 -d"$duration" --latency $(wrk_args "$load" "$base") >"$out"
      kill -0 "$pid" 2>/dev/null || { echo "$side exited during $load" >&2; exit 1; }
      read -r rps p50 p99 non errors < <(wrk_summary "$out")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$load" "$side" "$rps" "$p50" "$p99" \
        "$non" "$errors" "$load1" >>"$results"
      printf 'rep %s  %-12s %-6s %10s req/s  p50 %7.2f ms  p99 %7.2f ms  non-2xx %s  socket errors %s  (load avg %s)\n' \
        "$rep" "$load" "$side" "$rps" "$p50" "$p99" "$non" "$errors" "$load1" >&2
    done
  done
done

# 5. The table: medians, [min–max] over the repetitions; the ratio is taken
# per pair (same repetition) and summarised the same way.
python3 - "$results" "$reps" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
loads = list(dict.fromkeys(r[1] for r in rows))
def get(load, side, col):
    return [float(r[col]) for r in rows if r[1] == load and r[2] == side]
def fmt(xs, f):
    return f"{f(statistics.median(xs))} [{f(min(xs))}–{f(max(xs))}]"
n0 = lambda x: f"{x:,.0f}"
ms = lambda x: f"{x:.2f}" if x < 10 else f"{x:.1f}"
r2 = lambda x: f"{x:.2f}"
print()
print(f"median [range] of {sys.argv[2]} interleaved runs each; latency in ms")
print("| load | ledgerd req/s | nginx req/s | ledgerd / nginx | ledgerd p50 | nginx p50 | ledgerd p99 | nginx p99 |")
print("|---|---|---|---|---|---|---|---|")
bad = 0
for load in loads:
    o, n = get(load, "ours", 3), get(load, "nginx", 3)
    ratios = [a / b for a, b in zip(o, n)]
    bad += sum(int(r[6]) + int(r[7]) for r in rows if r[1] == load)
    print(f"| {load} | {fmt(o, n0)} | {fmt(n, n0)} | {fmt(ratios, r2)} | "
          f"{fmt(get(load, 'ours', 4), ms)} | {fmt(get(load, 'nginx', 4), ms)} | "
          f"{fmt(get(load, 'ours', 5), ms)} | {fmt(get(load, 'nginx', 5), ms)} |")
print()
print("target: ledgerd / nginx >= 0.5")
print(f"non-2xx answers and socket errors, all runs: {bad}")
PY
