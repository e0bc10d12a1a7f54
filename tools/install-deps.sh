#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs, only when some are missing.
# With --tests, also what the dashboard's browser tests need: Node.js and npm,
# Chromium to drive, and Playwright from npm (tests/web, at the version its
# lock file names); and what the interoperability tests (tests/interop)
# need: Go with Debian's golang.org/x/mod, to build a verifier of the
# transparency log that this project did not write, nginx, a real caching
# proxy to put in front of ledgerd, curl, the openssl command (the TLS
# tests make their own CA) and systemd-analyze (the runbook's unit file). Safe to run repeatedly; needs
# root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ccache clang-format
  librocksdb-dev capnproto libcapnp-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libspdlog-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev
)
if [ "${1:-}" = "--tests" ]; then
  # Commands rather than packages: a Node.js from elsewhere will do.
  command -v npm >/dev/null || packages+=(nodejs npm)
  command -v chromium >/dev/null || packages+=(chromium)
  # Packages: the verifier is built against these very x/mod sources.
  packages+=(golang-go golang-golang-x-mod-dev nginx-light curl openssl)
  # systemd-analyze checks the runbook's unit file (nothing is started).
  command -v systemd-analyze >/dev/null || packages+=(systemd)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

playwright() {
  if [ "${1:-}" = "--tests" ] && [ ! -d "$(dirname "$0")/../tests/web/node_modules/playwright-core" ]; then
    (cd "$(dirname "$0")/../tests/web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  playwright "${1:-}"
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Never the unversioned libboost-*-dev: those are 1.74 and would remove 1.81.
# No package's service is started (nginx's would take port 80): the tests
# start their own, and Debian's invoke-rc.d asks policy-rc.d first.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
playwright "${1:-}"
