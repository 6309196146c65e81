#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors, starts RabbitMQ
# and PostgreSQL on the test ports, runs ctest, and stops the infrastructure again.
#
#   scripts/test.sh [ctest arguments...]
#   scripts/test.sh -L unit            only the unit tests
#   scripts/test.sh -R common_test     only the tests whose name matches
#
# Environment (see README.md, "Configuration"):
#   WONDERLAND_BUILD_DIR       build directory (default: build)
#   WONDERLAND_CMAKE_ARGS      extra CMake arguments, space-separated
#                              (e.g. "-DWONDERLAND_SANITIZE=ON -DWONDERLAND_BUILD_BENCHMARKS=OFF")
#   WONDERLAND_TEST_LABELS     ctest label regex to run (e.g. 'unit|rmq'; default: every test)
#   WONDERLAND_TEST_JOBS       tests run in parallel (default: 2)
#   WONDERLAND_TEST_AMQP_PORT  broker port of the test instance (default: 5673)
#   WONDERLAND_TEST_PG_PORT    database port of the test instance (default: 5433)
#   WONDERLAND_TEST_VAR_DIR    data of the test instances (default: var/test)
#   WONDERLAND_TEST_KEEP_DATA  1: keep the test instances' data from the previous run
#                              (default: every run starts from empty instances)
#   WONDERLAND_TEST_KEEP_INFRA 1: leave the test instances running afterwards
#
# The tests see: WONDERLAND_AMQP_URL, WONDERLAND_PG_URL, WONDERLAND_VAR_DIR,
# WONDERLAND_AMQP_PORT, WONDERLAND_PG_PORT (the test instances), WONDERLAND_TEST_INFRA (path of
# scripts/infra.sh, to start private instances on other ports) and WONDERLAND_REPO_DIR.
# Functions below run from traps: shellcheck cannot see them called.
# shellcheck disable=SC2317
set -euo pipefail

WL_PROG=test.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INFRA="$WL_REPO_DIR/scripts/infra.sh"
build_dir="$(wl_build_dir)"
jobs="${WONDERLAND_TEST_JOBS:-2}"
labels="${WONDERLAND_TEST_LABELS:-}"

# The test instances: their own ports and var dir, never those of scripts/run.sh.
WONDERLAND_VAR_DIR="$(wl_abspath "${WONDERLAND_TEST_VAR_DIR:-var/test}")"
WONDERLAND_AMQP_PORT="${WONDERLAND_TEST_AMQP_PORT:-5673}"
WONDERLAND_PG_PORT="${WONDERLAND_TEST_PG_PORT:-5433}"
export WONDERLAND_VAR_DIR WONDERLAND_AMQP_PORT WONDERLAND_PG_PORT
# Derived from the port by infra.sh; a value meant for the run instance must not leak in. The
# test broker is a single node (the cluster test starts a cluster of its own).
unset WONDERLAND_RABBITMQ_NODE WONDERLAND_RABBITMQ_DIST_PORT WONDERLAND_RABBITMQ_NODES
unset WONDERLAND_AMQP_QUEUE_TYPE

# One test run at a time per test var dir (the instances and their ports are shared).
mkdir -p "$WONDERLAND_VAR_DIR"
exec 7>>"$WONDERLAND_VAR_DIR/.test.lock"
if ! flock -n 7; then
  wl_info "another scripts/test.sh uses $WONDERLAND_VAR_DIR; waiting for it to finish"
  flock 7
fi

infra_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((infra_started)) && [[ "${WONDERLAND_TEST_KEEP_INFRA:-0}" != 1 ]]; then
    wl_section "stopping the test infrastructure"
    "$INFRA" stop all 7>&- || rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wl_section "dependencies (scripts/deps.sh)"
wl_deps

wl_section "build: $build_dir (warnings as errors)"
extra_cmake_args=()
read -r -a extra_cmake_args <<<"${WONDERLAND_CMAKE_ARGS:-}"
"$WL_REPO_DIR/scripts/build.sh" -DWONDERLAND_WERROR=ON "${extra_cmake_args[@]}" 7>&-

wl_section "test infrastructure: amqp port $WONDERLAND_AMQP_PORT, pg port $WONDERLAND_PG_PORT, $WONDERLAND_VAR_DIR"
infra_started=1
if [[ "${WONDERLAND_TEST_KEEP_DATA:-0}" != 1 ]]; then
  "$INFRA" clean all 7>&-
fi
"$INFRA" start all 7>&-
eval "$("$INFRA" env)"
export WONDERLAND_TEST_INFRA="$INFRA"
export WONDERLAND_REPO_DIR="$WL_REPO_DIR"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

wl_section "tests: ctest in $build_dir${labels:+, labels $labels}"
ctest_args=(--test-dir "$build_dir" --output-on-failure --no-tests=error -j "$jobs")
[[ -n "$labels" ]] && ctest_args+=(-L "$labels")
rc=0
ctest "${ctest_args[@]}" "$@" 7>&- || rc=$?
if ((rc != 0)); then
  wl_error "ctest failed (status $rc)"
fi
exit "$rc"
