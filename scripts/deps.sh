#!/usr/bin/env bash
# Installs the Debian 12 packages Wonderland needs to build, run and test.
# Idempotent: when every package is present it only checks and exits in well under a second.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential g++ clang cmake ninja-build pkg-config git clang-format
  # libraries
  librabbitmq-dev libboost1.81-all-dev nlohmann-json3-dev libpqxx-dev libsqlite3-dev
  libspdlog-dev libfmt-dev libcli11-dev libsodium-dev libhpdf-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # runtime: broker and database (run as the project's own processes, see scripts/infra.sh)
  rabbitmq-server postgresql postgresql-client
  # tests: browser, SMTP server, PDF text, HTTP tooling
  chromium python3 python3-aiosmtpd poppler-utils curl procps iproute2
  # benchmarks: HTTP load
  wrk
)
# Node.js may come from elsewhere (it often does); only ask Debian for it when none is on PATH.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts the system services on install; Wonderland runs its own instances instead.
for svc in rabbitmq-server postgresql; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    "${SUDO[@]}" systemctl stop "$svc" || true
  elif command -v service >/dev/null 2>&1; then
    "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
  fi
done
