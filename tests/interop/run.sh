#!/usr/bin/env bash
# The transparency log (SPEC §9) checked by code this project did not write,
# against a live ledgerd: tlogcheck (tlogcheck/main.go, on Go's
# golang.org/x/mod/sumdb/note and tlog as Debian packages them) reads the
# checkpoint, hash tiles and entry bundles over HTTP and verifies them.
#
#   tests/interop/run.sh          (ctest: interop.go_verifier)
#     A generated ledger is served; the verifier accepts it and saves its
#     checkpoint A; 300 events are appended over HTTP (crossing a tile
#     boundary) and the verifier accepts the grown log and its consistency
#     with A. Then it must refuse (exit 1): one flipped bit in an entry
#     bundle, in a hash tile, in the checkpoint (each served by tamperproxy,
#     a reverse proxy that alters just that answer), and a checkpoint
#     signed by the same key over a forked history (a copy of the ledger
#     grown differently). It must fail to check (exit 2) without a valid
#     credential for the bundles (401), with a partnership's (403), and
#     without a server.
#   tests/interop/run.sh nginx    (ctest: interop.nginx_cache)
#     The same ledgerd behind Debian's nginx as a caching reverse proxy
#     that follows the server's Cache-Control and nothing else: a full hash
#     tile is cached (MISS, then HIT with the same bytes), a partial tile
#     and the checkpoint only for their max-age of 1 s, an entry bundle
#     (credentialed) never, so a client without the right gets 401 or 403
#     through the proxy even after an auditor fetched the bundle; the
#     verifier passes through the proxy, before and after an append, its
#     second run served full tiles from the cache.
#
# Environment: LEDGERD, LEDGERCTL (the binaries; required); WORK (a parent
# directory for this run's files, default $TMPDIR or /tmp; the run's own
# directory is removed when it passes and kept, with the logs, when it
# fails); GO (default go); XMOD_GOPATH (a GOPATH holding
# golang.org/x/mod, default Debian's /usr/share/gocode); GOCACHE (default
# inside the run's directory); NGINX_BIN (default nginx on PATH or
# /usr/sbin/nginx; not NGINX, which nginx itself reads as inherited
# sockets). Needs curl. Every process it starts is stopped on exit.
set -euo pipefail

mode=${1:-verifier}
case "$mode" in verifier | nginx) ;; *)
  echo "usage: $0 [verifier|nginx]" >&2
  exit 2
  ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
: "${LEDGERD:?LEDGERD must name the ledgerd binary}" "${LEDGERCTL:?LEDGERCTL must name the ledgerctl binary}"
GO=${GO:-go}
XMOD_GOPATH=${XMOD_GOPATH:-/usr/share/gocode}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
parent=${WORK:-${TMPDIR:-/tmp}}
mkdir -p "$parent"
work=$(mktemp -d "$parent/interop-$mode.XXXXXX")
gocache=${GOCACHE:-$work/gocache}

pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "interop: FAILED (exit $rc); files and logs kept in $work" >&2
    for log in "$work"/*.log "$work"/nginx/*.log; do
      [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "interop: FAIL: $*" >&2
  exit 1
}
say() { echo "interop: $*"; }

# Builds tests/interop/<name> to $work/bin/<name>, in GOPATH mode against
# the x/mod sources Debian installs (no module download, no network). The
# build cache is GOCACHE; GOENV=off keeps a user's go/env file out of it;
# nothing is written under $HOME or the source tree.
go_build() {
  (cd "$here" && env GO111MODULE=off GOPATH="$XMOD_GOPATH" GOCACHE="$gocache" GOENV=off GOFLAGS= \
    CGO_ENABLED=0 "$GO" build -o "$work/bin/$1" "./$1")
}

# The run's credentials. The tokens file holds their SHA-256 digests only.
auditor=interop-auditor-token
regulator=interop-regulator-token
partnership=interop-partnership-token # E08000002, where the test appends
digest() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
write_tokens() {
  cat >"$work/tokens.json" <<JSON
{"tokens": [
  {"name": "interop-auditor", "role": "auditor", "sha256": "$(digest $auditor)"},
  {"name": "interop-regulator", "role": "regulator", "sha256": "$(digest $regulator)"},
  {"name": "interop-partnership", "role": "partnership", "areas": ["E08000002"],
   "sha256": "$(digest $partnership)"}
]}
JSON
}

# start_ledgerd NAME DATA_DIR: serves DATA_DIR on a port the kernel picks;
# sets $url. Its log is $work/NAME.log.
start_ledgerd() {
  local log="$work/$1.log" port=""
  : >"$log" # there before the server writes to it, for the reads below
  "$LEDGERD" --data "$2" --tokens "$work/tokens.json" --address 127.0.0.1 --port 0 >"$log" 2>&1 &
  pids+=("$!")
  ledgerd_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")
    [ -n "$port" ] && break
    kill -0 "$ledgerd_pid" 2>/dev/null || fail "$1 exited at start"
    sleep 0.1
  done
  [ -n "$port" ] || fail "$1 did not start"
  url=http://127.0.0.1:$port
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] || fail "$1: /healthz is not 200"
}

stop_ledgerd() {
  kill "$1"
  wait "$1" || true
}

# append BASE PREFIX COUNT: appends COUNT new referrals (ids PREFIX0001...)
# in one batch, as the partnership of E08000002. Pseudonyms only.
append() {
  local body='{"events":[' i
  for i in $(seq -f '%04g' "$3"); do
    [ "$i" = 0001 ] || body+=','
    body+='{"type":"referral.received","referral_id":"'$2$i'","occurred_at":"2025-06-01T00:00:00Z",'
    body+='"data":{"person":"p'$2$i'","area":"E08000002","referrer":"gp","substance":"alcohol",'
    body+='"age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}}'
  done
  body+=']}'
  local code
  code=$(curl -s -o "$work/append.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $partnership" \
    -H 'Content-Type: application/json' --data-binary "$body" "$1/v1/events/batch")
  [ "$code" = 201 ] || fail "appending $3 events: HTTP $code: $(cat "$work/append.json")"
}

# checkpoint_size BASE: the size line of the checkpoint served at BASE.
checkpoint_size() { curl -sf "$1/log/checkpoint" | sed -n 2p; }

# wait_size BASE N: until BASE serves a checkpoint of size N (a cache may
# hold the older one for its max-age of 1 s).
wait_size() {
  for _ in $(seq 50); do
    [ "$(checkpoint_size "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1/log/checkpoint never showed size $2 (last: $(checkpoint_size "$1"))"
}

# check EXPECTED_EXIT NAME tlogcheck-args...: runs the verifier; its output
# goes to $work/NAME.out; the exit status must be EXPECTED_EXIT.
check() {
  local want=$1 name=$2 rc=0
  shift 2
  "$work/bin/tlogcheck" -vkey "$vkey" "$@" >"$work/$name.out" 2>&1 || rc=$?
  say "$name: exit $rc: $(cat "$work/$name.out")"
  [ "$rc" = "$want" ] || fail "$name: tlogcheck exited $rc, not $want"
}

# expect_output NAME TEXT: the verifier's output for NAME contains TEXT.
expect_output() {
  grep -qF -- "$2" "$work/$1.out" || fail "$1: the verifier's output does not say \"$2\""
}

# The ledger: about 1,400 generated events (five full tiles and a partial
# one at level 0, a partial tile at level 1), pseudonymous.
say "building the verifier"
go_build tlogcheck
if [ "$mode" = verifier ]; then go_build tamperproxy; fi
"$LEDGERCTL" generate --data "$work/ledger" --referrals 300 --from 2025-01-01 --to 2026-01-01 \
  --seed 11 >"$work/generate.log"
write_tokens
# The verifier key a regulator stores, from the ledger's public key; the
# server must name the same.
vkey=$("$LEDGERCTL" key --data "$work/ledger")
if [ "$mode" = verifier ]; then cp -a "$work/ledger" "$work/fork-ledger"; fi
start_ledgerd ledgerd "$work/ledger"
main_url=$url
served_vkey=$(curl -sf -H "Authorization: Bearer $auditor" "$main_url/v1/ledger/head" |
  sed -n 's/.*"vkey":"\([^"]*\)".*/\1/p')
[ "$served_vkey" = "$vkey" ] || fail "GET /v1/ledger/head names vkey '$served_vkey', ledgerctl key '$vkey'"
size_a=$(checkpoint_size "$main_url")
size_b=$((size_a + 300))
# Full and partial tiles before the append, and a tile boundary crossed by it.
if [ $((size_a % 256)) -eq 0 ] || [ $((size_a / 256)) -lt 2 ]; then fail "$size_a events: not full tiles and a partial one"; fi
[ $((size_a / 256)) -lt $((size_b / 256)) ] || fail "300 events from $size_a do not cross a tile boundary"
say "ledgerd at $main_url, $size_a events, key $vkey"

verifier_mode() {
  check 0 verify-a -url "$main_url" -token "$auditor" -save-checkpoint "$work/checkpoint-a"
  expect_output verify-a "size $size_a "
  expect_output verify-a "$size_a entries"

  # The bundles need a credential: without a valid one, nothing is checked.
  check 2 no-credential -url "$main_url" -token not-a-token
  expect_output no-credential "HTTP 401"
  check 2 partnership -url "$main_url" -token "$partnership"
  expect_output partnership "HTTP 403"

  append "$main_url" interop-a 300
  wait_size "$main_url" "$size_b"
  check 0 verify-b -url "$main_url" -token "$regulator" -old-checkpoint "$work/checkpoint-a"
  expect_output verify-b "size $size_b "
  expect_output verify-b "$size_b entries"
  expect_output verify-b "consistent with the checkpoint of size $size_a"

  # A log that serves bytes other than those it signed: one bit flipped in
  # one answer by a proxy, the verifier unchanged.
  tamper() { # NAME PATH OFFSET EXPECTED-TEXT
    : >"$work/$1-proxy.out"
    "$work/bin/tamperproxy" -upstream "$main_url" -path "$2" -offset "$3" \
      >"$work/$1-proxy.out" 2>"$work/$1-proxy.log" &
    local proxy=$! proxy_url=""
    pids+=("$proxy")
    for _ in $(seq 50); do
      proxy_url=$(sed -n 's/^listening on //p' "$work/$1-proxy.out")
      [ -n "$proxy_url" ] && break
      sleep 0.1
    done
    [ -n "$proxy_url" ] || fail "$1: tamperproxy did not start"
    check 1 "$1" -url "$proxy_url" -token "$auditor" -old-checkpoint "$work/checkpoint-a"
    expect_output "$1" "$4"
    grep -qF "altered byte $3 of $2" "$work/$1-proxy.log" || fail "$1: the proxy altered nothing"
    kill "$proxy"
    wait "$proxy" 2>/dev/null || true
  }
  tamper tampered-bundle /log/tile/entries/000 10 "REJECTED: entry "
  tamper tampered-tile /log/tile/0/001 100 "REJECTED: leaf hashes of bundle 1: downloaded inconsistent tile: tile 0/001 hashes to"
  tamper tampered-checkpoint /log/checkpoint 0 "REJECTED: checkpoint: invalid signature"

  # A split view: the same key, a second history grown from the same
  # first $size_a events. Each log verifies on its own; the main log
  # cannot prove the fork's checkpoint a prefix of its tree.
  start_ledgerd fork "$work/fork-ledger"
  local fork_url=$url fork_pid=$ledgerd_pid
  append "$fork_url" interop-fork 10
  wait_size "$fork_url" $((size_a + 10))
  check 0 verify-fork -url "$fork_url" -token "$auditor" -old-checkpoint "$work/checkpoint-a" \
    -save-checkpoint "$work/checkpoint-fork"
  stop_ledgerd "$fork_pid"
  check 1 forked -url "$main_url" -token "$auditor" -old-checkpoint "$work/checkpoint-fork"
  expect_output forked "REJECTED: the tree of size $((size_a + 10))"
  expect_output forked "is not a prefix of the tree of size $size_b"

  # No server: nothing could be checked.
  check 2 no-server -url "$fork_url" -token "$auditor"
}

# GET through a URL: "STATUS CACHE-STATUS" (the proxy's X-Cache-Status, or
# "-"); the body goes to OUT. get URL OUT [curl args...]
get() {
  local target=$1 out=$2 code cache
  shift 2
  code=$(curl -s -o "$out" -D "$out.headers" -w '%{http_code}' "$@" "$target")
  cache=$(tr -d '\r' <"$out.headers" | sed -n 's/^[Xx]-[Cc]ache-[Ss]tatus: *//p')
  echo "$code ${cache:--}"
}

# expect_get WANT URL OUT [curl args...]: the GET answers WANT,
# "STATUS CACHE-STATUS", or one of several separated by "|".
expect_get() {
  local want=$1 got
  shift
  got=$(get "$@")
  [[ "|$want|" == *"|$got|"* ]] || fail "GET $1: '$got', not '$want'"
  say "GET ${1#"$proxy_url"}: $got"
}

nginx_mode() {
  local dir=$work/nginx port=""
  mkdir -p "$dir/cache" "$dir/tmp"
  # A free port: nginx cannot report one the kernel picked, so a random one
  # is tried, and another if it was taken.
  for _ in $(seq 10); do
    port=$((20000 + RANDOM % 40000))
    # Every path nginx writes is in $dir. No proxy_cache_valid: only what
    # the server's Cache-Control allows is cached, for as long as it says.
    # Nothing here keys on Authorization (nginx, unlike RFC 9111 §3.5, would
    # store an answer to a credentialed request): what keeps entry bundles
    # out of the shared cache is the server marking them private. Run as
    # root (as in CI), the workers stay root: the run's directory is
    # private to its owner.
    cat >"$dir/nginx.conf" <<CONF
$([ "$(id -u)" = 0 ] && echo 'user root;')
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
  log_format cache '\$upstream_cache_status \$status \$request_uri';
  access_log $dir/access.log cache;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  proxy_cache_path $dir/cache levels=1:2 keys_zone=log:1m max_size=64m inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass $main_url;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache log;
      add_header X-Cache-Status \$upstream_cache_status always;
    }
  }
}
CONF
    env -u NGINX "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    for _ in $(seq 30); do
      kill -0 "$nginx_pid" 2>/dev/null || break
      if [ "$(get "http://127.0.0.1:$port/healthz" "$dir/probe")" = "200 MISS" ]; then
        proxy_url=http://127.0.0.1:$port
        break 2
      fi
      sleep 0.1
    done
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  done
  [ -n "${proxy_url:-}" ] || fail "nginx did not start (see $dir/error.log)"
  say "nginx at $proxy_url in front of $main_url"
  local body=$work/body

  # A full tile never changes: cached for a year, the same bytes.
  expect_get "200 MISS" "$proxy_url/log/tile/0/000" "$body.1"
  expect_get "200 HIT" "$proxy_url/log/tile/0/000" "$body.2"
  curl -sf -o "$body.direct" "$main_url/log/tile/0/000"
  if ! cmp -s "$body.1" "$body.2" || ! cmp -s "$body.1" "$body.direct"; then
    fail "the cached full tile's bytes differ"
  fi
  [ "$(stat -c %s "$body.1")" = 8192 ] || fail "a full tile is not 256 hashes"

  # A partial tile and the checkpoint: max-age=1, so stale after 2 s.
  local partial
  partial=/log/tile/0/$(printf '%03d' $((size_a / 256))).p/$((size_a % 256))
  expect_get "200 MISS" "$proxy_url$partial" "$body.p1"
  expect_get "200 MISS" "$proxy_url/log/checkpoint" "$body.c1"
  sleep 2.2
  expect_get "200 EXPIRED|200 MISS" "$proxy_url$partial" "$body.p2"
  expect_get "200 EXPIRED|200 MISS" "$proxy_url/log/checkpoint" "$body.c2"
  cmp -s "$body.p1" "$body.p2" || fail "a partial tile of the same width changed"

  # An entry bundle: a regulator's or auditor's credential is needed
  # through the proxy too, and the answer given to one is never given to
  # anyone else: not to an anonymous client, an unknown token or a
  # partnership (which may not read bundles).
  local bundle=/log/tile/entries/000
  expect_get "401 MISS" "$proxy_url$bundle" "$body.e0"
  expect_get "200 MISS" "$proxy_url$bundle" "$body.e1" -H "Authorization: Bearer $auditor"
  expect_get "200 MISS" "$proxy_url$bundle" "$body.e2" -H "Authorization: Bearer $regulator"
  cmp -s "$body.e1" "$body.e2" || fail "the bundle differs between two credentials"
  expect_get "401 MISS" "$proxy_url$bundle" "$body.e3"
  expect_get "401 MISS" "$proxy_url$bundle" "$body.e4" -H "Authorization: Bearer not-a-token"
  expect_get "403 MISS" "$proxy_url$bundle" "$body.e5" -H "Authorization: Bearer $partnership"
  for e in e3 e4 e5; do
    if cmp -s "$body.e1" "$body.$e"; then fail "the proxy gave the bundle to a client without the right"; fi
  done

  # The verifier through the proxy, before and after an append.
  check 0 proxy-verify-a -url "$proxy_url" -token "$auditor" -save-checkpoint "$work/checkpoint-a"
  expect_output proxy-verify-a "size $size_a "
  local lines_a
  lines_a=$(wc -l <"$dir/access.log")
  append "$main_url" interop-a 300
  wait_size "$proxy_url" "$size_b"
  check 0 proxy-verify-b -url "$proxy_url" -token "$auditor" -old-checkpoint "$work/checkpoint-a"
  expect_output proxy-verify-b "size $size_b "
  expect_output proxy-verify-b "consistent with the checkpoint of size $size_a"
  # The second run read the full tiles the first had read from the cache;
  # no bundle was ever served from it.
  local hits
  hits=$(tail -n +$((lines_a + 1)) "$dir/access.log" | grep -c '^HIT 200 /log/tile/0/' || true)
  [ "$hits" -ge $((size_a / 256)) ] || fail "the second verifier run had $hits full tiles from the cache"
  say "second verifier run: $hits level-0 tiles served from nginx's cache"
  if grep -q '^HIT .*/log/tile/entries/' "$dir/access.log"; then
    fail "nginx served an entry bundle from its cache"
  fi
  if grep -E '\[(emerg|alert|crit|error)\]' "$dir/error.log"; then fail "nginx logged errors"; fi
}

"${mode}_mode"
say "$mode: passed"
