#!/usr/bin/env bash
# The bookstore load benchmark: starts a whole system with scripts/run.sh on ports of its own
# (so it never disturbs a running instance), with the real catalogue but a stock deep enough to
# sell from for minutes, then runs
#   1. build/bench/bookstore/load_benchmark: simulated customers doing whole journeys
#      (sign in, two books in the basket, order, wait for "confirmed") at 1, 16 and 64 at once;
#   2. wrk against GET /api/books with 64 connections;
# and stops the system again. Every figure it prints is measured in that run.
#
#   scripts/bench-bookstore.sh [load_benchmark options...]   e.g. --customers 1,16,64 --seconds 10
#
# Environment:
#   WONDERLAND_BENCH_VAR_DIR    data of the benchmark's system (default: var/bench; emptied first)
#   WONDERLAND_BENCH_HTTP_PORT  the mediator's port (default: 8190)
#   WONDERLAND_BENCH_AMQP_PORT  RabbitMQ's port (default: 5691)
#   WONDERLAND_BENCH_PG_PORT    PostgreSQL's port (default: 5451)
#   WONDERLAND_BENCH_WRK_SECONDS  duration of the wrk run (default: 10; 0 leaves wrk out)
#   WONDERLAND_LOG_LEVEL        the system's log level (default here: warning, so that the figures
#                               leave out the info records every order logs; `info`, what a
#                               deployment logs by default, measures them too)
#   WONDERLAND_BENCH_OUTBOX_DIR   where the notification service writes its .eml files (default:
#                               a fresh directory under /dev/shm, else $WONDERLAND_BENCH_VAR_DIR/outbox;
#                               emptied first and removed at the end). On tmpfs because on ext4
#                               creating a file per email costs what the previous run's deleted
#                               files left in the inode allocator: the notification service's CPU
#                               then measured the file system's history, not the service.
# Functions below run from traps: shellcheck cannot see them called.
# shellcheck disable=SC2317
set -euo pipefail

WL_PROG=bench-bookstore.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

var_dir="$(wl_abspath "${WONDERLAND_BENCH_VAR_DIR:-var/bench}")"
http_port="${WONDERLAND_BENCH_HTTP_PORT:-8190}"
amqp_port="${WONDERLAND_BENCH_AMQP_PORT:-5691}"
pg_port="${WONDERLAND_BENCH_PG_PORT:-5451}"
wrk_seconds="${WONDERLAND_BENCH_WRK_SECONDS:-10}"
wl_require_port WONDERLAND_BENCH_HTTP_PORT "$http_port"
wl_require_port WONDERLAND_BENCH_AMQP_PORT "$amqp_port"
wl_require_port WONDERLAND_BENCH_PG_PORT "$pg_port"
wl_is_uint "$wrk_seconds" || wl_die "WONDERLAND_BENCH_WRK_SECONDS='$wrk_seconds' is not a number of seconds"
build_dir="$(wl_build_dir)"
base="http://127.0.0.1:$http_port"

for arg in "$@"; do
  if [[ "$arg" == -h || "$arg" == --help ]]; then
    awk 'NR > 1 && /^# Functions below/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
    echo
    echo "load_benchmark's options:"
    "$build_dir/bench/bookstore/load_benchmark" --help
    exit 0
  fi
done

command -v wrk >/dev/null || wl_die "wrk is missing: scripts/deps.sh installs it"

# Another instance on this port (a system still starting, or one whose database is down and so
# not ready) would take the load instead of the one started here: refuse before touching anything.
wl_require_free_port wonderland-mediator "$http_port" "HTTP, WONDERLAND_BENCH_HTTP_PORT" || exit 1

export WONDERLAND_VAR_DIR="$var_dir" WONDERLAND_HTTP_PORT="$http_port"
export WONDERLAND_AMQP_PORT="$amqp_port" WONDERLAND_PG_PORT="$pg_port"
unset WONDERLAND_RABBITMQ_NODE WONDERLAND_RABBITMQ_DIST_PORT WONDERLAND_AMQP_URL WONDERLAND_PG_URL
# Errors and warnings only: the benchmark measures the system, not its debug output.
export WONDERLAND_LOG_LEVEL="${WONDERLAND_LOG_LEVEL:-warning}"
# Every simulated customer signs up and orders from 127.0.0.1, as fast as it can: the sign-up and
# order throttles would measure themselves, not the system (sign-in failures stay throttled).
export WONDERLAND_SIGNUP_PER_MINUTE="${WONDERLAND_SIGNUP_PER_MINUTE:-0}"
export WONDERLAND_ORDERS_PER_MINUTE="${WONDERLAND_ORDERS_PER_MINUTE:-0}"

# A fresh system: earlier runs' data (and a leftover instance) go first.
"$WL_REPO_DIR/scripts/infra.sh" stop all >/dev/null 2>&1 || true
rm -rf "$var_dir"
mkdir -p "$var_dir"
export WONDERLAND_CATALOGUE="$var_dir/catalogue.json"
if [[ -n "${WONDERLAND_BENCH_OUTBOX_DIR:-}" ]]; then
  outbox_dir="$(wl_abspath "$WONDERLAND_BENCH_OUTBOX_DIR")"
elif [[ -d /dev/shm && -w /dev/shm ]]; then
  outbox_dir="/dev/shm/wonderland-bench-outbox-$http_port"
else
  outbox_dir="$var_dir/outbox"
fi
rm -rf "$outbox_dir"
mkdir -p "$outbox_dir"
export WONDERLAND_OUTBOX_DIR="$outbox_dir"
sed -E 's/"stock": *[0-9]+/"stock": 10000000/' "$WL_REPO_DIR/data/catalogue.json" >"$WONDERLAND_CATALOGUE"

run_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    wl_info "stopping the system"
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  [[ "$outbox_dir" == /dev/shm/* ]] && rm -rf "$outbox_dir"
  exit "$rc"
}
trap cleanup EXIT
# A reader of the output that goes away (`| head`) must not leave the system running either.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

wl_section "starting the system (scripts/run.sh, log $var_dir/run.log)"
"$WL_REPO_DIR/scripts/run.sh" >"$var_dir/run.log" 2>&1 &
run_pid=$!
deadline=$((SECONDS + 600)) # the first run may build everything
until curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; do
  if ! kill -0 "$run_pid" 2>/dev/null; then
    wl_tail "$var_dir/run.log" 60
    wl_die "scripts/run.sh exited before the system was ready"
  fi
  ((SECONDS < deadline)) || {
    wl_tail "$var_dir/run.log" 60
    wl_die "the system was not ready within 600 s"
  }
  sleep 0.5
done

wl_section "whole customer journeys (load_benchmark $*)"
"$build_dir/bench/bookstore/load_benchmark" --url "$base" --var-dir "$var_dir" "$@"

if ((wrk_seconds > 0)); then
  wl_section "GET /api/books with wrk: 2 threads, 64 connections, ${wrk_seconds} s"
  wrk -t2 -c64 -d"${wrk_seconds}s" --latency "$base/api/books"
fi
