#!/usr/bin/env bash
# The cost of leases and heartbeats when nothing happens: N wonderland-mediator processes share
# a PostgreSQL journal (a schema of this run's own) and sit idle; prints each one's CPU per
# second and the database's transactions and rows read per second per mediator.
#
#   bench/mediator/idle_cost.sh [--mediators N] [--seconds S] [--lease-ms MS]
#
# Needs the broker and the database of scripts/infra.sh: WONDERLAND_AMQP_URL and
# WONDERLAND_PG_URL (eval "$(scripts/infra.sh env)"), and the built mediator (WONDERLAND_BUILD_DIR,
# default build). The database should be otherwise quiet: its counters are database-wide.
set -euo pipefail

WL_PROG=idle_cost.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

mediators=3
seconds=60
lease_ms=3000
while (($#)); do
  case "$1" in
    --mediators) mediators="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --lease-ms) lease_ms="$2"; shift 2 ;;
    *) wl_die "unknown argument '$1' (see the head of $0)" ;;
  esac
done
for n in "$mediators" "$seconds" "$lease_ms"; do
  wl_is_uint "$n" && ((n > 0)) || wl_die "'$n' is not a positive number"
done
: "${WONDERLAND_AMQP_URL:?set it: eval \"\$(scripts/infra.sh env)\"}"
: "${WONDERLAND_PG_URL:?set it: eval \"\$(scripts/infra.sh env)\"}"

binary="$(wl_build_dir)/src/mediator/wonderland-mediator"
[[ -x "$binary" ]] || wl_die "$binary is missing: run scripts/build.sh"
schema="idle_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$WONDERLAND_PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# CPU time (user + system) of a process, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Transactions committed and rows read in the whole database so far.
db_counters() {
  psql -qAt "$WONDERLAND_PG_URL" -c \
    "SELECT xact_commit, tup_returned + tup_fetched FROM pg_stat_database
     WHERE datname = current_database()" | tr '|' ' '
}

base_port=$((18500 + RANDOM % 500))
for ((i = 0; i < mediators; i++)); do
  WONDERLAND_JOURNAL_URL="$WONDERLAND_PG_URL" WONDERLAND_JOURNAL_SCHEMA="$schema" \
    WONDERLAND_JOURNAL_LEASE_MS="$lease_ms" WONDERLAND_HTTP_PORT=$((base_port + i)) \
    WONDERLAND_QUEUE_PREFIX="$schema." WONDERLAND_ADMIN_TOKEN="idle-cost-token" \
    WONDERLAND_WORKFLOWS_DIR="$WL_REPO_DIR/workflows" WONDERLAND_WEB_DIR="$WL_REPO_DIR/web" \
    WONDERLAND_LOG_LEVEL=warn "$binary" >"$work/mediator-$i.log" 2>&1 &
  pids+=($!)
done
for ((i = 0; i < mediators; i++)); do
  for ((t = 0; t < 300; t++)); do
    curl -fs "http://127.0.0.1:$((base_port + i))/healthz" >/dev/null 2>&1 && break
    kill -0 "${pids[$i]}" 2>/dev/null || { cat "$work/mediator-$i.log" >&2; wl_die "mediator $i exited"; }
    sleep 0.1
  done
done
sleep 3  # past start-up: migrations, first claims

hz="$(getconf CLK_TCK)"
declare -a before
for ((i = 0; i < mediators; i++)); do before[i]="$(ticks "${pids[$i]}")"; done
read -r commits0 rows0 < <(db_counters)
sleep "$seconds"
read -r commits1 rows1 < <(db_counters)
echo "idle cost over ${seconds} s: $mediators mediator(s) on one PostgreSQL journal, lease ${lease_ms} ms"
total=0
for ((i = 0; i < mediators; i++)); do
  used=$(($(ticks "${pids[$i]}") - before[i]))
  total=$((total + used))
  awk -v t="$used" -v hz="$hz" -v s="$seconds" -v i="$i" \
    'BEGIN { printf "mediator %d: %.2f ms CPU per second\n", i, t * 1000 / hz / s }'
done
awk -v t="$total" -v hz="$hz" -v s="$seconds" -v n="$mediators" \
  -v c=$((commits1 - commits0)) -v r=$((rows1 - rows0)) 'BEGIN {
    printf "per mediator: %.2f ms CPU per second, %.2f transactions per second, %.1f rows read per second\n",
      t * 1000 / hz / s / n, c / s / n, r / s / n }'
