#!/usr/bin/env bash
# The runbook's files are the ones that run (docs/OPERATIONS.md):
#   docs/ops/ledgerd.service    checked by `systemd-analyze verify`, with
#                               ExecStart pointed at the built ledgerd;
#   docs/ops/nginx-ledgerd.conf run as it is (its @NAMES@ replaced) in
#                               front of ledgerd on loopback: https with a
#                               CA made here, TLS 1.1 refused, a full tile
#                               cached (MISS then HIT), an entry bundle
#                               never cached, the per-address rate limit
#                               answering 429, the API through the proxy.
# Environment: LEDGERD, LEDGERCTL, NGINX_BIN (default nginx), WORK.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
nginx_bin=${NGINX_BIN:-nginx}
mkdir -p "${WORK:-/tmp}"
dir=$(mktemp -d "${WORK:-/tmp}/runbook-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  tail -20 "$dir"/nginx/error.log "$dir"/ledgerd.log 2>/dev/null >&2 || true
  exit 1
}

# 1. The unit, as systemd reads it.
sed "s#/usr/local/bin/ledgerd#$LEDGERD#" "$repo/docs/ops/ledgerd.service" >"$dir/ledgerd.service"
if ! out=$(systemd-analyze verify "$dir/ledgerd.service" 2>&1); then
  echo "$out" >&2
  fail "systemd-analyze verify refused the unit"
fi
# Warnings about the missing user or config are the host's, not the unit's;
# anything else it says is a fault of the unit.
if echo "$out" | grep -v -e "ledger" -e "^$" | grep -q .; then
  echo "$out" >&2
  fail "systemd-analyze verify found faults in the unit"
fi
echo "unit: systemd-analyze verify passed"

# 2. A CA and a certificate for 127.0.0.1; a ledger; ledgerd on loopback.
cd "$dir"
"$repo/tests/make_test_ca.sh" "$dir"
"$LEDGERCTL" generate --data "$dir/data" --referrals 200 --seed 5 >/dev/null
digest() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf '{"tokens":[{"name":"r","role":"regulator","sha256":"%s"}]}' "$(digest reg-token)" >tokens.json
# Behind a proxy every client has the proxy's address: the per-address cap
# is raised (docs/API.md, "Limits"); the proxy limits each client instead.
# start_ledgerd PORT [ARGS...]: ledgerd on loopback; sets $upstream and
# $ledgerd_pid once it listens.
start_ledgerd() {
  local port=$1
  shift
  : >ledgerd.log
  "$LEDGERD" --data "$dir/data" --tokens tokens.json --port "$port" \
    --max-connections-per-address 1024 "$@" >ledgerd.log 2>&1 &
  ledgerd_pid=$!
  pids+=("$ledgerd_pid")
  upstream=""
  for _ in $(seq 100); do
    upstream=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' ledgerd.log)
    [ -n "$upstream" ] && break
    sleep 0.1
  done
  [ -n "$upstream" ] || fail "ledgerd did not start"
}
stop_ledgerd() {
  kill -TERM "$ledgerd_pid"
  wait "$ledgerd_pid" || fail "ledgerd did not stop cleanly"
}
start_ledgerd 0

# 3. nginx with the runbook's file, its names replaced. nginx cannot say
# which port the kernel gave it: a random one is tried, then another.
mkdir -p nginx cache
# Run as root (as CI does), nginx's workers would be nobody, who cannot
# enter this test's 0700 directory: they run as root here. In production
# they are www-data, and the cache directory theirs.
workers=""
[ "$(id -u)" = 0 ] && workers="user root;"
for _ in $(seq 10); do
  port=$((20000 + RANDOM % 40000))
  sed -e "s#@PREFIX@#$dir/nginx#g" -e "s#@CACHE@#$dir/cache#g" -e "s#@PORT@#127.0.0.1:$port#g" \
    -e "s#@CERT@#$dir/server.pem#g" -e "s#@KEY@#$dir/server.key#g" \
    -e "s#@UPSTREAM@#127.0.0.1:$upstream#g" "$repo/docs/ops/nginx-ledgerd.conf" >nginx.conf
  grep -v '^ *#' nginx.conf | grep -q '@[A-Z]*@' && fail "a name of the nginx config was not replaced"
  env -u NGINX "$nginx_bin" -p "$dir/nginx" -c "$dir/nginx.conf" -g "daemon off; $workers" &
  nginx_pid=$!
  base="https://127.0.0.1:$port"
  for _ in $(seq 50); do
    curl -sf --cacert ca.pem "$base/healthz" >/dev/null && break
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nginx_pid" 2>/dev/null; then
    pids+=("$nginx_pid")
    break
  fi
done
curl -sf --cacert ca.pem "$base/healthz" >/dev/null || fail "no https through nginx"

status() { curl -s -o /dev/null -w '%{http_code}\n' --cacert ca.pem "$@"; }
cache() { curl -s -o /dev/null -D - --cacert ca.pem "$@" | tr -d '\r' | sed -n 's/^X-Cache-Status: //Ip'; }
[ "$(status -H 'Authorization: Bearer reg-token' "$base/v1/ledger/head")" = 200 ] ||
  fail "the API through the proxy"
[ "$(status "$base/v1/ledger/head")" = 401 ] || fail "no credential through the proxy is not 401"
if curl -s -o /dev/null --cacert ca.pem --tlsv1.1 --tls-max 1.1 "$base/healthz"; then
  fail "TLS 1.1 was accepted"
fi
[ "$(cache "$base/log/tile/0/000")" = MISS ] || fail "first read of a full tile is not a MISS"
[ "$(cache "$base/log/tile/0/000")" = HIT ] || fail "second read of a full tile is not a HIT"
cache -H 'Authorization: Bearer reg-token' "$base/log/tile/entries/000" >/dev/null
[ "$(cache -H 'Authorization: Bearer reg-token' "$base/log/tile/entries/000")" != HIT ] ||
  fail "an entry bundle was served from the cache"
[ "$(status "$base/log/tile/entries/000")" = 401 ] || fail "a bundle without a credential"
# The rate limit: 20 a second with bursts of 40 per address, so 200 at
# once must meet some 429s. One curl sends them all in parallel, so that a
# loaded machine still sends them faster than the limit refills.
urls=()
for _ in $(seq 200); do urls+=(-o /dev/null "$base/healthz"); done
codes=$(curl -s --parallel --parallel-max 50 --cacert ca.pem -w '%{http_code}\n' "${urls[@]}" |
  sort | uniq -c)
echo "$codes" | grep -q ' 429$' || fail "no 429 from the rate limit: $codes"
echo "nginx: https, TLS 1.1 refused, tile MISS then HIT, bundles not cached, 429 over the rate"

# 4. Key custody, as the runbook does it: the signing key moved out of the
# data directory, then rotated with ledgerd stopped; ledgerd back on the
# same port behind nginx.
stop_ledgerd
mkdir -m 700 keys
mv data/signing-key.pem keys/ledger-1.pem
start_ledgerd "$upstream" --signing-key "$dir/keys/ledger-1.pem"
[ -f data/signing-key.pem ] && fail "a signing key is back in the data directory"
old_vkey=$("$LEDGERCTL" key --data data)
curl -sf "http://127.0.0.1:$upstream/log/checkpoint" >old.checkpoint || fail "no checkpoint"
stop_ledgerd
"$LEDGERCTL" key rotate --data data --signing-key "$dir/keys/ledger-2.pem" >rotate.out ||
  fail "key rotate"
# The old key does not start the ledger any more.
if "$LEDGERD" --data "$dir/data" --tokens tokens.json --port 0 \
  --signing-key "$dir/keys/ledger-1.pem" >old-key.log 2>&1; then
  fail "ledgerd started with the retired key"
fi
grep -q "since size" old-key.log || fail "the retired key's refusal does not say why: $(cat old-key.log)"
start_ledgerd "$upstream" --signing-key "$dir/keys/ledger-2.pem"
new_vkey=$("$LEDGERCTL" key --data data)
[ "$new_vkey" != "$old_vkey" ] || fail "the verifier key did not change"
[ "$("$LEDGERCTL" key history --data data | wc -l)" = 2 ] || fail "key history"
"$LEDGERCTL" verify --data data >/dev/null || fail "verify after the rotation"
[ "$(status -H 'Authorization: Bearer reg-token' "$base/v1/ledger/head")" = 200 ] ||
  fail "the API through the proxy after the rotation"
echo "keys: kept apart, rotated, old key refused, verify passed"
echo "runbook: passed"
