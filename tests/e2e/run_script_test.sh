#!/usr/bin/env bash
# End-to-end test of scripts/run.sh healing itself: it starts the run command on ports and a var
# dir of its own (beside the instances of scripts/test.sh and those of a developer's run), waits
# for /readyz, then kills (SIGKILL) each service in turn, the mediator twice, and each time waits
# until the run command has started it again (a new pid) and /readyz answers 200 again. An order
# placed meanwhile (while the payment service is down) must end confirmed. At the end the run
# command still runs, its output shows a restart line per kill, and SIGTERM stops it with status
# 0, leaving no process and no port behind.
#
#   tests/e2e/run_script_test.sh [path/to/run.sh [build dir]]
#
# The build dir must hold the built binaries: run.sh runs with WONDERLAND_RUN_SKIP_BUILD=1.
# Environment: WONDERLAND_RUN_TEST_DIR (scratch dir, default ./run-test-var; kept on failure),
# WONDERLAND_RUN_TEST_HTTP_PORT (18190), WONDERLAND_RUN_TEST_AMQP_PORT (5781; its Erlang
# distribution port is 20000 above), WONDERLAND_RUN_TEST_PG_PORT (5441).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="${1:-$REPO/scripts/run.sh}"
BUILD_DIR="${2:-$REPO/build}"
DIR="$(realpath -m "${WONDERLAND_RUN_TEST_DIR:-$PWD/run-test-var}")"
HTTP_PORT="${WONDERLAND_RUN_TEST_HTTP_PORT:-18190}"
AMQP_PORT="${WONDERLAND_RUN_TEST_AMQP_PORT:-5781}"
PG_PORT="${WONDERLAND_RUN_TEST_PG_PORT:-5441}"
API="http://127.0.0.1:$HTTP_PORT"
OUT="$DIR/run.out"
BOOK=9781492092391 # in data/catalogue.json, with stock
SERVICES=(wonderland-logging wonderland-inventory wonderland-customer wonderland-payment
  wonderland-notification wonderland-mediator)
START=$SECONDS

run_pid=""
order_id=""

say() { printf 'run_script_test: [%3d s] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
  say "FAIL: $*"
  if [[ -f "$OUT" ]]; then
    echo "---- last lines of the run command's output ($OUT) ----"
    tail -n 120 "$OUT"
  fi
  exit 1
}
listening() { [[ -n "$(ss -Hltn "sport = :$1")" ]]; }
# pid_of NAME: the pid the run command last started NAME with.
pid_of() {
  sed -n "s/^run.sh: $1: started, pid \([0-9]*\),.*/\1/p" "$OUT" | tail -n 1
}
# eventually SECONDS CMD...: CMD succeeds within SECONDS (polled every 0.2 s).
eventually() {
  local until=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < until)) || return 1
    sleep 0.2
  done
}
ready() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$API/readyz")" == 200 ]]; }
# healthy NAME: the service's container health command passes (wonderland-healthcheck): its
# queues have a consumer, or for the mediator /readyz answers 200.
healthy() {
  local args=()
  case "$1" in
    wonderland-logging) args=(logging.records logging.workflow logging.query) ;;
    wonderland-notification) args=(notification.events notification.commands) ;;
    wonderland-mediator) args=(--http "$API/readyz") ;;
    *) args=("${1#wonderland-}.commands") ;;
  esac
  WONDERLAND_AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/" \
    "$BUILD_DIR/src/healthcheck/wonderland-healthcheck" "${args[@]}" 2>>"$DIR/healthcheck.err"
}
# json KEY: KEY of the JSON object on stdin ("" when absent).
json() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1" 2>/dev/null; }
# Processes of this test's instances (their marker names an instance dir in its var dir) and
# services (their WONDERLAND_VAR_DIR is it).
leftovers() {
  local f pid
  while read -r f; do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == epmd ]] && continue # shared by Erlang nodes
    if tr '\0' '\n' 2>/dev/null <"$f" |
      grep -qxF -e "WONDERLAND_VAR_DIR=$DIR" -e "WONDERLAND_INFRA_INSTANCE=rabbitmq:$DIR/rabbitmq-$AMQP_PORT" \
        -e "WONDERLAND_INFRA_INSTANCE=postgres:$DIR/postgres-$PG_PORT"; then
      echo "$pid"
    fi
  done < <(grep -lzF -- "$DIR" /proc/[0-9]*/environ 2>/dev/null)
}

cleanup() {
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null
    for _ in $(seq 1 300); do
      kill -0 "$run_pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  local left
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
  fi
}
trap cleanup EXIT

for port in "$HTTP_PORT" "$AMQP_PORT" "$((AMQP_PORT + 20000))" "$PG_PORT"; do
  listening "$port" && fail "port $port is in use (WONDERLAND_RUN_TEST_*_PORT choose others)"
done
[[ -x "$BUILD_DIR/src/mediator/wonderland-mediator" &&
  -x "$BUILD_DIR/src/healthcheck/wonderland-healthcheck" ]] || fail "$BUILD_DIR holds no build"
rm -rf "$DIR"
mkdir -p "$DIR"

# --- start ------------------------------------------------------------------------------------
# The run command's own settings only, whatever the caller (scripts/test.sh) exported.
env -u WONDERLAND_AMQP_URL -u WONDERLAND_PG_URL -u WONDERLAND_RABBITMQ_NODE \
  -u WONDERLAND_RABBITMQ_NODES -u WONDERLAND_RABBITMQ_DIST_PORT -u WONDERLAND_AMQP_QUEUE_TYPE \
  -u WONDERLAND_MEDIATORS -u WONDERLAND_JOURNAL_URL -u WONDERLAND_QUEUE_PREFIX \
  -u WONDERLAND_ADMIN_TOKEN -u WONDERLAND_JOURNAL_PATH \
  WONDERLAND_VAR_DIR="$DIR" WONDERLAND_HTTP_PORT="$HTTP_PORT" WONDERLAND_AMQP_PORT="$AMQP_PORT" \
  WONDERLAND_PG_PORT="$PG_PORT" WONDERLAND_BUILD_DIR="$BUILD_DIR" WONDERLAND_RUN_SKIP_BUILD=1 \
  WONDERLAND_INFRA_TIMEOUT_S="${WONDERLAND_INFRA_TIMEOUT_S:-90}" \
  "$RUN" >"$OUT" 2>&1 </dev/null &
run_pid=$!
say "run.sh started (pid $run_pid), output in $OUT"
eventually 150 ready || fail "/readyz did not answer 200"
say "ready"
for name in "${SERVICES[@]}"; do
  [[ -n "$(pid_of "$name")" ]] || fail "$name was not started"
  eventually 30 healthy "$name" || fail "$name is not healthy: $(tail -n 1 "$DIR/healthcheck.err")"
done

# --- a customer with a basket (everything up) ---------------------------------------------------
user="runtest$RANDOM$RANDOM"
password="looking-glass-42"
status="$(curl -s -o "$DIR/signup.json" -w '%{http_code}' -X POST "$API/api/customers" \
  -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"$password\",\"first_name\":\"Alice\",\"last_name\":\"Liddell\"}")"
[[ "$status" == 201 ]] || fail "sign-up answered $status: $(cat "$DIR/signup.json")"
token="$(curl -s -X POST "$API/api/sessions" -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$password\"}" | json token)"
[[ -n "$token" ]] || fail "no session token"
auth="Authorization: Bearer $token"
status="$(curl -s -o "$DIR/basket.json" -w '%{http_code}' -X PUT "$API/api/basket/items/$BOOK" \
  -H "$auth" -H 'Content-Type: application/json' -d '{"quantity":1}')"
[[ "$status" == 200 ]] || fail "adding to the basket answered $status: $(cat "$DIR/basket.json")"

# place_order: POST /api/orders with one Idempotency-Key until it is accepted (the payment
# service tokenises the card, so the API answers 503 while it is down): a client's retries.
idempotency_key="$(cat /proc/sys/kernel/random/uuid)"
try_order() {
  local status
  status="$(curl -s -o "$DIR/order.json" -w '%{http_code}' --max-time 10 -X POST \
    "$API/api/orders" -H "$auth" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $idempotency_key" \
    -d '{"payment":{"method":"visa","card_number":"4242 4242 4242 4242","expiry":"12/30","cvv":"123"}}')"
  [[ "$status" == 202 || "$status" == 200 ]]
}

# --- kill each service, and the mediator twice ---------------------------------------------------
# kill_and_wait NAME: SIGKILL to NAME's process; it must come back under a new pid that serves
# (its health check passes: the old process's consumers died with its connection), and /readyz
# must answer 200 again.
kills=()
kill_and_wait() {
  local name="$1" old new
  old="$(pid_of "$name")"
  kill -0 "$old" 2>/dev/null || fail "$name (pid $old) is not running"
  kill -KILL "$old"
  kills+=("$name $old")
  say "killed $name (pid $old)"
  [[ "$name" == wonderland-payment ]] && {
    eventually 60 try_order || fail "the order was not accepted: $(cat "$DIR/order.json")"
    order_id="$(json order_id <"$DIR/order.json")"
    say "order $order_id accepted"
  }
  new_pid() {
    new="$(pid_of "$name")"
    [[ -n "$new" && "$new" != "$old" ]] && kill -0 "$new" 2>/dev/null
  }
  eventually 60 new_pid || fail "$name was not started again"
  eventually 60 healthy "$name" ||
    fail "$name (pid $new) is not healthy: $(tail -n 1 "$DIR/healthcheck.err")"
  eventually 60 ready || fail "/readyz did not answer 200 after $name came back (pid $new)"
  say "$name back (pid $new), ready"
}
for name in "${SERVICES[@]}"; do
  kill_and_wait "$name"
done
kill_and_wait wonderland-mediator

# --- the order ----------------------------------------------------------------------------------
[[ -n "$order_id" ]] || fail "no order was placed"
order_status=""
order_settled() {
  order_status="$(curl -s --max-time 12 "$API/api/orders/$order_id?wait_ms=10000" -H "$auth" |
    json status)"
  [[ "$order_status" == confirmed || "$order_status" == failed ]]
}
eventually 90 order_settled || fail "order $order_id did not settle (last status '$order_status')"
[[ "$order_status" == confirmed ]] || fail "order $order_id ended $order_status"
say "order $order_id confirmed"

# --- the run command's account and stop -------------------------------------------------------
kill -0 "$run_pid" 2>/dev/null || fail "the run command stopped"
for k in "${kills[@]}"; do
  name="${k% *}"
  pid="${k#* }"
  grep -qF "run.sh: warning: $name (pid $pid) was killed by SIGKILL (status 137)" "$OUT" ||
    fail "no restart line for $name (pid $pid)"
done
grep -q -- "---- last 20 lines of $DIR/logs/wonderland-payment.log ----" "$OUT" ||
  fail "the restart lines do not show the service's log"
started=()
mapfile -t started < <(sed -n 's/^run.sh: .*: started, pid \([0-9]*\),.*/\1/p' "$OUT")
((${#started[@]} >= ${#SERVICES[@]} + ${#kills[@]})) || fail "only ${#started[@]} starts were logged"

kill -TERM "$run_pid"
stopped() { ! kill -0 "$run_pid" 2>/dev/null; }
eventually 90 stopped || fail "the run command did not stop after SIGTERM"
wait "$run_pid"
rc=$?
run_pid=""
[[ "$rc" == 0 ]] || fail "the run command exited with status $rc after SIGTERM"
for pid in "${started[@]}"; do
  kill -0 "$pid" 2>/dev/null && fail "process $pid is still running"
done
left="$(leftovers)"
[[ -z "$left" ]] || fail "processes left behind: $(echo "$left" | tr '\n' ' ')"
for port in "$HTTP_PORT" "$AMQP_PORT" "$((AMQP_PORT + 20000))" "$PG_PORT"; do
  listening "$port" && fail "port $port is still taken"
done
say "PASS: ${#kills[@]} kills healed, order confirmed, clean stop (status 0)"
rm -rf "$DIR"
