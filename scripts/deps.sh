#!/usr/bin/env bash
# Installs the Debian 12 packages Wonderland needs to build, run and test, then the npm packages
# of the browser tests (tests/browser) and of the web linters (scripts/lint): `npm ci` where
# node_modules is missing or older than package-lock.json.
# Idempotent: when everything is present it only checks and exits in well under a second.
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

PACKAGES=(
  # toolchain
  build-essential g++ clang cmake ninja-build pkg-config git ccache
  # linters (scripts/lint.sh): clang-format and clang-tidy 14
  clang-format clang-tidy
  # fuzzing (scripts/fuzz.sh): clang 14 with its libFuzzer and sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # libraries
  librabbitmq-dev libboost1.81-all-dev nlohmann-json3-dev libsimdjson-dev libpqxx-dev libsqlite3-dev
  libspdlog-dev libfmt-dev libcli11-dev libsodium-dev libhpdf-dev libcurl4-openssl-dev libssl-dev
  libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # runtime: broker and database (run as the project's own processes, see scripts/infra.sh)
  rabbitmq-server postgresql postgresql-client
  # load balancer in front of several mediators (scripts/run.sh, WONDERLAND_MEDIATORS > 1; e2e tests)
  haproxy
  # tests: browser, SMTP server, PDF text, HTTP tooling, test certificates (openssl), the
  # Python worker of examples/python-worker (pika)
  chromium python3 python3-aiosmtpd python3-pika poppler-utils curl procps iproute2 openssl
  # benchmarks: HTTP load
  wrk
)
# Node.js may come from elsewhere (it often does); only ask Debian for it when none is on PATH.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

# Debian packages: apt-get only for those missing.
install_packages() {
  local p svc missing=() SUDO=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi

  echo "deps: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; return 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # Debian starts the system services on install; Wonderland runs its own instances instead.
  for svc in rabbitmq-server postgresql haproxy; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      "${SUDO[@]}" systemctl stop "$svc" || true
    elif command -v service >/dev/null 2>&1; then
      "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
}

# npm packages, pinned by package-lock.json: the browser tests' (playwright-core only: the tests
# drive Debian's chromium, no browser is downloaded) and the web linters' (ESLint, Prettier).
# npm keeps a copy of the lock file it installed from in node_modules.
install_npm_modules() {  # install_npm_modules DIR
  local dir="$1" installed="$1/node_modules/.package-lock.json"
  if [[ -f "$installed" && ! "$dir/package-lock.json" -nt "$installed" ]]; then
    return 0
  fi
  # playwright-core and ESLint are pinned to releases that run on Debian 12's Node.js 18.
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if ((major < 18)); then
    echo "deps: $dir needs Node.js 18 or later; $(command -v node) is $(node --version)" >&2
    exit 1
  fi
  echo "deps: npm ci in $dir" >&2
  # A stalled registry request is given up after 30 s and tried again (npm waits 5 min by
  # default), so that one slow answer does not hold the install for minutes.
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --fetch-timeout=30000 \
    --fetch-retries=5 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=20000) >&2
}

install_packages
install_npm_modules "$REPO_DIR/tests/browser"
install_npm_modules "$REPO_DIR/scripts/lint"
