#!/usr/bin/env bash
# Reads from standbys: what a standby serves, and two behind a load
# balancer. One generated ledger on a primary; two standbys (ledgerd
# --standby-of) started empty, which copy it whole first (the copy's time is
# printed); then `wrk -t2 -c64 -d$DURATION --latency` with a regulator's
# token on one view GET, against, in turn:
#   primary          the primary itself (the peer of every ratio);
#   standby          one standby;
#   nginx→2 standbys Debian's nginx balancing over both standbys
#                    (round robin, keep-alive upstream connections);
#   nginx→primary    the same nginx in front of the primary alone: what the
#                    extra hop costs, apart from the balancing.
# Interleaved, REPS (3) times, for each of two GETs: one area's fairness (a
# few KB) and England's (every area, ~650 KB). Before the runs, each GET's
# answer is fetched from the primary and from each standby directly and
# through nginx, and must be byte-identical (the same as_of_seq and
# checkpoint).
#
# Every process shares this machine's cores: with 2 cores, two standbys
# cannot serve twice what one does; the rows say what one node serves and
# that the balancer spreads it, not what separate machines would.
#
# Usage: bench/log/standby_reads.sh
# Environment: BUILD_DIR (build), BIN_DIR, REFERRALS (20000), REPS (3),
# DURATION (10s), NGINX_BIN (nginx), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
referrals=${REFERRALS:-20000}
reps=${REPS:-3}
duration=${DURATION:-10s}
nginx_bin=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
# shellcheck source=bench/log/lib.sh
source "$here/lib.sh"

start_work log-standby-reads
print_machine
echo "nginx: $("$nginx_bin" -v 2>&1 | cut -d/ -f2)"
copy_binaries "$work/bin" "$build/api/ledgerd" "$build/tools/ledgerctl/ledgerctl"
"$work/bin/ledgerctl" generate --data "$work/primary" --referrals "$referrals" --seed 7 \
  --from 2021-01-01 --to 2026-06-30 >"$work/generate.log"
echo "ledger: $(head -c 120 "$work/generate.log")"
write_tokens "$work/tokens.json"

size_of() {
  curl -s "$1/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["size"])'
}

p_port=$(free_port)
primary=http://127.0.0.1:$p_port
start_bg "$work/primary.log" "$work/bin/ledgerd" --data "$work/primary" \
  --tokens "$work/tokens.json" --port "$p_port" --log-level warn
wait_http "$primary/healthz" "$last_pid" 60
size=$(size_of "$primary")
standbys=()
copy_start=$(date +%s.%N)
for n in 1 2; do
  port=$(free_port)
  start_bg "$work/standby-$n.log" "$work/bin/ledgerd" --data "$work/standby-$n" \
    --tokens "$work/tokens.json" --port "$port" --log-level warn \
    --standby-of "$primary" --token r-token --signing-key "$work/primary/signing-key.pem"
  wait_http "http://127.0.0.1:$port/healthz" "$last_pid" 60
  standbys+=("http://127.0.0.1:$port")
done
for s in "${standbys[@]}"; do
  until [ "$(size_of "$s")" = "$size" ]; do sleep 0.05; done
done
copy_end=$(date +%s.%N)
echo "two standbys started empty held all $size events after" \
  "$(python3 -c "print(f'{$copy_end - $copy_start:.2f}')") s (both copying at once)"

# nginx, balancing over both standbys, and in front of the primary alone.
ndir=$work/nginx
mkdir -p "$ndir/tmp"
nginx_url=""
for _ in $(seq 10); do
  lb_port=$((20000 + RANDOM % 40000))
  single_port=$((20000 + RANDOM % 40000))
  cat >"$ndir/nginx.conf" <<CONF
$([ "$(id -u)" = 0 ] && echo 'user root;')
daemon off;
worker_processes auto;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $ndir/tmp/body;
  proxy_temp_path $ndir/tmp/proxy;
  fastcgi_temp_path $ndir/tmp/fastcgi;
  uwsgi_temp_path $ndir/tmp/uwsgi;
  scgi_temp_path $ndir/tmp/scgi;
  upstream standbys {
    server ${standbys[0]#http://};
    server ${standbys[1]#http://};
    keepalive 64;
  }
  upstream primary {
    server 127.0.0.1:$p_port;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$lb_port;
    location / {
      proxy_pass http://standbys;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:$single_port;
    location / {
      proxy_pass http://primary;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  start_bg "$ndir/stderr.log" env -u NGINX "$nginx_bin" -p "$ndir/" -c "$ndir/nginx.conf" \
    -e "$ndir/error.log"
  nginx_pid=$last_pid
  if wait_http "http://127.0.0.1:$lb_port/healthz" "$nginx_pid" 5 2>/dev/null &&
    wait_http "http://127.0.0.1:$single_port/healthz" "$nginx_pid" 5 2>/dev/null; then
    nginx_url=http://127.0.0.1:$lb_port
    nginx_primary=http://127.0.0.1:$single_port
    break
  fi
  stop_pid "$nginx_pid"
done
[ -n "$nginx_url" ] || {
  echo "nginx did not start (see $ndir/error.log)" >&2
  exit 1
}

targets=("/v1/areas/E08000034/fairness?from=2025-01-01&to=2026-01-01"
  "/v1/fairness?from=2025-01-01&to=2026-01-01")
auth="Authorization: Bearer r-token"
for t in "${targets[@]}"; do
  curl -sf -H "$auth" "$primary$t" >"$work/expected"
  for base in "${standbys[@]}" "$nginx_url" "$nginx_url" "$nginx_primary"; do
    curl -sf -H "$auth" "$base$t" >"$work/got"
    cmp -s "$work/expected" "$work/got" || {
      echo "$base$t differs from the primary's answer" >&2
      exit 1
    }
  done
  echo "$t: $(wc -c <"$work/expected") bytes, the same from the primary, each standby and nginx"
done

echo "wrk -t2 -c64 -d$duration --latency -H '$auth', $reps interleaved repetitions"
printf '| rep | GET | served by | req/s | p50 ms | p99 ms | ratio to the primary |\n'
printf '|---|---|---|---|---|---|---|\n'
for rep in $(seq "$reps"); do
  for t in "${targets[@]}"; do
    label=area
    [[ $t == /v1/fairness* ]] && label=England
    base_rps=""
    for kind in primary standby "nginx→2 standbys" "nginx→primary"; do
      case $kind in
      primary) url=$primary ;;
      standby) url=${standbys[0]} ;;
      "nginx→2 standbys") url=$nginx_url ;;
      *) url=$nginx_primary ;;
      esac
      out=$work/wrk-$rep-$label-${kind//[^a-z0-9]/_}.txt
      wrk -t2 -c64 -d"$duration" --latency -H "$auth" "$url$t" >"$out" || true
      read -r rps p50 p99 non _ < <(wrk_summary "$out")
      [ "$non" = 0 ] || echo "rep $rep $label $kind: $non answers were not 2xx" >&2
      [ -n "$base_rps" ] || base_rps=$rps
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$rep" "$label" "$kind" "$rps" "$p50" \
        "$p99" "$(python3 -c "print(f'{$rps / $base_rps:.2f}')")"
    done
  done
done
