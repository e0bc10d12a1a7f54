#!/usr/bin/env bash
# The crash harness over https: a CA and a certificate for 127.0.0.1 made
# here with the openssl command, ledgerd serving TLS with them, the
# harness's appenders and readers checking the certificate against the CA.
# Usage: crashtest_tls.sh CRASHTEST LEDGERD [crashtest options...]
set -euo pipefail
crashtest=$(realpath "$1")
ledgerd=$(realpath "$2")
shift 2
dir=$(mktemp -d /tmp/crashtest-tls-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj /CN=crashtest-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
  -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext 2>/dev/null
"$crashtest" --ledgerd "$ledgerd" --work "$dir/work" --tls-cert "$dir/server.pem" \
  --tls-key "$dir/server.key" --ca "$dir/ca.pem" "$@"
