#!/usr/bin/env bash
# Shell-level test of scripts/infra.sh: two brokers side by side, idempotent start and stop,
# restart of one broker while the other keeps running, a port conflict, and the database.
# It uses its own ports and var dir, so it runs beside the instances of scripts/test.sh.
#
#   tests/infra/infra_test.sh [path/to/infra.sh]
#
# Environment: WONDERLAND_INFRA_TEST_DIR (scratch dir, default ./infra-test-var),
# WONDERLAND_INFRA_TEST_AMQP_PORT (5771; the second broker uses the next port),
# WONDERLAND_INFRA_TEST_PG_PORT (5471).
set -uo pipefail

INFRA="${1:-${WONDERLAND_TEST_INFRA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/infra.sh}}"
DIR="$(realpath -m "${WONDERLAND_INFRA_TEST_DIR:-$PWD/infra-test-var}")"
PORT_A="${WONDERLAND_INFRA_TEST_AMQP_PORT:-5771}"
PORT_B=$((PORT_A + 1))
PORT_PG="${WONDERLAND_INFRA_TEST_PG_PORT:-5471}"
VAR_A="$DIR/a"
VAR_B="$DIR/b"

# The test's own settings only, whatever the caller exported.
unset WONDERLAND_RABBITMQ_NODE WONDERLAND_RABBITMQ_DIST_PORT WONDERLAND_VAR_DIR \
  WONDERLAND_AMQP_PORT WONDERLAND_PG_PORT
export WONDERLAND_INFRA_TIMEOUT_S="${WONDERLAND_INFRA_TIMEOUT_S:-90}"

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$*"
}
fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$*"
}
# check DESCRIPTION CMD...: CMD must succeed.
check() {
  local what="$1"
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

infra_a() { WONDERLAND_VAR_DIR="$VAR_A" WONDERLAND_AMQP_PORT="$PORT_A" WONDERLAND_PG_PORT="$PORT_PG" "$INFRA" "$@"; }
infra_b() { WONDERLAND_VAR_DIR="$VAR_B" WONDERLAND_AMQP_PORT="$PORT_B" "$INFRA" "$@"; }
# restart_b NAME=value...: B restarted with these settings too.
restart_b() { env "$@" WONDERLAND_VAR_DIR="$VAR_B" WONDERLAND_AMQP_PORT="$PORT_B" "$INFRA" restart rabbitmq; }
# The same broker port as A, another var dir: must not start.
infra_c() { WONDERLAND_VAR_DIR="$DIR/c" WONDERLAND_AMQP_PORT="$PORT_A" "$INFRA" "$@"; }

status_code() {
  local rc=0
  "$@" status rabbitmq >/dev/null 2>&1 || rc=$?
  printf '%s' "$rc"
}
broker_pid() { cat "$1/rabbitmq-$2/rabbitmq.pid" 2>/dev/null; }
listening() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }
# Processes that still carry the instance marker of one of this test's instances.
leftovers() {
  grep -lzF -- "WONDERLAND_INFRA_INSTANCE=" /proc/[0-9]*/environ 2>/dev/null |
    while read -r f; do
      tr '\0' '\n' <"$f" 2>/dev/null | grep -q "^WONDERLAND_INFRA_INSTANCE=.*:$DIR/" && echo "$f"
    done
}

cleanup() {
  infra_a stop all >/dev/null 2>&1
  infra_b stop rabbitmq >/dev/null 2>&1
  infra_c stop rabbitmq >/dev/null 2>&1
  infra_a clean all >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT

[[ -x "$INFRA" ]] || {
  echo "infra.sh not found: $INFRA"
  exit 1
}
rm -rf "$DIR"
mkdir -p "$DIR"

echo "== env"
out="$(infra_a env)"
check "env prints the AMQP URL" grep -qx "export WONDERLAND_AMQP_URL='amqp://guest:guest@127.0.0.1:$PORT_A/'" <<<"$out"
check "env prints the PostgreSQL URL" \
  grep -qx "export WONDERLAND_PG_URL='postgresql://wonderland:wonderland@127.0.0.1:$PORT_PG/wonderland'" <<<"$out"

echo "== two brokers side by side"
check "status of a broker never started is 3" test "$(status_code infra_a)" = 3
infra_a start rabbitmq &
pa=$!
infra_b start rabbitmq &
pb=$!
check "broker A starts" wait "$pa"
check "broker B starts" wait "$pb"
check "broker A is running" test "$(status_code infra_a)" = 0
check "broker B is running" test "$(status_code infra_b)" = 0
check "broker A listens on $PORT_A" listening "$PORT_A"
check "broker B listens on $PORT_B" listening "$PORT_B"
pid_a="$(broker_pid "$VAR_A" "$PORT_A")"
pid_b="$(broker_pid "$VAR_B" "$PORT_B")"
check "the brokers are distinct processes" test -n "$pid_a" -a -n "$pid_b" -a "$pid_a" != "$pid_b"

echo "== idempotent start, port conflict"
check "starting A again succeeds" infra_a start rabbitmq
check "A kept its process" test "$(broker_pid "$VAR_A" "$PORT_A")" = "$pid_a"
check "a broker on a port in use does not start" test "$(infra_c start rabbitmq >/dev/null 2>&1; echo $?)" != 0

echo "== restart and stop one broker, the other keeps running"
check "a busy-wait setting of another name is refused" \
  test "$(restart_b WONDERLAND_RABBITMQ_BUSY_WAIT=forever >/dev/null 2>&1; echo $?)" != 0
check "the refusal left B running" test "$(broker_pid "$VAR_B" "$PORT_B")" = "$pid_b"
check "restarting B succeeds" \
  restart_b WONDERLAND_RABBITMQ_BUSY_WAIT=short "WONDERLAND_RABBITMQ_ERL_ARGS=+zdbbl 64000"
check "B runs a new process" test "$(broker_pid "$VAR_B" "$PORT_B")" != "$pid_b"
# The VM's own argument list. RabbitMQ passes its own +zdbbl before the extra arguments, and the
# VM applies the last.
vm_args="$(tr '\0' ' ' <"/proc/$(broker_pid "$VAR_B" "$PORT_B")/cmdline" 2>/dev/null)"
check "B's schedulers spin as asked" grep -q -- "-sbwt short -sbwtdcpu short -sbwtdio short" <<<"$vm_args"
check "B's VM got the extra arguments" grep -q -- "-zdbbl 64000" <<<"$vm_args"
check "A kept its process across B's restart" test "$(broker_pid "$VAR_A" "$PORT_A")" = "$pid_a"
check "stopping B succeeds" infra_b stop rabbitmq
check "B is stopped" test "$(status_code infra_b)" = 3
check "B's port is free" test -z "$(ss -Hltn "sport = :$PORT_B")"
check "stopping B again succeeds" infra_b stop rabbitmq
check "A is still running" test "$(status_code infra_a)" = 0

echo "== postgres"
check "postgres starts" infra_a start postgres
check "postgres status is 0" infra_a status postgres
if command -v psql >/dev/null; then
  check "the application role logs in" \
    test "$(psql -X -At -d "postgresql://wonderland:wonderland@127.0.0.1:$PORT_PG/wonderland" -c 'SELECT 42')" = 42
fi
check "starting postgres again succeeds" infra_a start postgres
check "stopping postgres succeeds" infra_a stop postgres
check "postgres is stopped" test "$(infra_a status postgres >/dev/null 2>&1; echo $?)" = 3

echo "== stop all"
check "stopping A succeeds" infra_a stop all
check "A is stopped" test "$(status_code infra_a)" = 3
check "no process of this test's instances is left" test -z "$(leftovers)"

echo "$passed passed, $failed failed"
((failed == 0))
