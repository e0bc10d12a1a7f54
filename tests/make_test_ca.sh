#!/usr/bin/env bash
# Makes a test CA and a server certificate it signed, for 127.0.0.1 and
# localhost, with the openssl command: DIR/ca.pem, DIR/ca.key,
# DIR/server.pem, DIR/server.key (P-256, valid 2 days). Used by the TLS
# tests (tests/api/tls_test.cc, tests/tools/crashtest_tls.sh,
# tests/interop/runbook.sh). Usage: make_test_ca.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj /CN=test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
  -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext 2>/dev/null
rm -f server.csr ext ca.srl
