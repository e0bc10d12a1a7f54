#!/usr/bin/env bash
# Builds ledgerd and serves a demo ledger: a realistic synthetic England
# ledger (about 25,000 referrals and 130,000 events from 2022 to today, so
# that about 0.8% of the adults in treatment reach rehab) generated on first run into
# $DATA_DIR (default ./demo-data). Installs the Debian packages it needs
# first. Prints the URL, the demo tokens and example calls, then serves until
# Ctrl-C.
#
# Environment: DATA_DIR, PORT (8080), ADDRESS (127.0.0.1), REFERRALS
# (default: calibrated as above).
set -euo pipefail
cd "$(dirname "$0")/.."

./tools/install-deps.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEDGER_WEB_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j 2 --target ledgerd ledgerctl

data=${DATA_DIR:-$PWD/demo-data}
port=${PORT:-8080}
address=${ADDRESS:-127.0.0.1}
mkdir -p "$data"
if [ ! -d "$data/ledger" ]; then
  echo "Generating the demo ledger in $data/ledger ..."
  "$build_dir/tools/ledgerctl/ledgerctl" generate --data "$data/ledger" \
    --referrals "${REFERRALS:-calibrated}"
fi

# Demo tokens: the file keeps only their SHA-256 digests.
digest() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat > "$data/tokens.json" <<JSON
{"tokens": [
  {"name": "demo-regulator", "role": "regulator", "sha256": "$(digest demo-regulator-token)"},
  {"name": "demo-birmingham", "role": "partnership", "areas": ["E08000025"],
   "sha256": "$(digest demo-birmingham-token)"},
  {"name": "demo-essex", "role": "partnership", "areas": ["E10000012"],
   "sha256": "$(digest demo-essex-token)"},
  {"name": "demo-auditor", "role": "auditor", "sha256": "$(digest demo-auditor-token)"}
]}
JSON

# A Birmingham referral to open on the dashboard's referral page.
sample=$("$build_dir/tools/ledgerctl/ledgerctl" export --data "$data/ledger" 2>/dev/null |
  grep -m1 '"type":"referral.received".*"area":"E08000025"' |
  sed -E 's/.*"referral_id":"([^"]+)".*/\1/' || true)

url="http://$address:$port"
cat <<TEXT

Rehab access ledger demo: $url   (data: $data)
Dashboard: open $url/ in a browser and paste a demo token. A referral to
open there (its proofs are checked in the browser): ${sample:-any referral id}

Demo tokens (Authorization: Bearer <token>):
  regulator (reads everything)        demo-regulator-token
  partnership, Birmingham E08000025   demo-birmingham-token
  partnership, Essex E10000012        demo-essex-token
  auditor (feed, heads, proofs)       demo-auditor-token

Try:
  curl -s -H 'Authorization: Bearer demo-regulator-token' '$url/v1/areas?from=2025-01-01&to=2026-01-01'
  curl -s -H 'Authorization: Bearer demo-birmingham-token' '$url/v1/areas/E08000025/fairness?from=2025-01-01&to=2026-01-01'
  curl -s -H 'Authorization: Bearer demo-auditor-token' '$url/v1/ledger/head'
The API is described at $url/v1/openapi.json. Ctrl-C stops the server.

TEXT
exec "$build_dir/api/ledgerd" --data "$data/ledger" --tokens "$data/tokens.json" \
  --address "$address" --port "$port"
