#!/usr/bin/env bash
# The crash harness over https: a CA and a certificate for 127.0.0.1 made
# here (tests/make_test_ca.sh), ledgerd serving TLS with them, the
# harness's appenders and readers checking the certificate against the CA.
# Usage: crashtest_tls.sh CRASHTEST LEDGERD [crashtest options...]
set -euo pipefail
crashtest=$(realpath "$1")
ledgerd=$(realpath "$2")
shift 2
dir=$(mktemp -d /tmp/crashtest-tls-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$(dirname "$(realpath "$0")")/../make_test_ca.sh" "$dir"
"$crashtest" --ledgerd "$ledgerd" --work "$dir/work" --tls-cert "$dir/server.pem" \
  --tls-key "$dir/server.key" --ca "$dir/ca.pem" "$@"
