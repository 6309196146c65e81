#!/usr/bin/env bash
# The container test: builds the images of compose.yaml, brings the whole stack up with
# podman-compose (rootful Podman; run as root), waits for every container to be healthy, then,
# through the balancer only:
#   1. signs a customer up, buys a book (confirmed) and another with a declined card (failed);
#   2. reads the confirmation email (the .eml with the invoice in the notification volume), the
#      operator's workflow of the order and the order's logs;
#   3. SIGKILLs one mediator container while orders are in flight: every order still ends, and
#      the container comes back by itself (restart: unless-stopped) and serves again;
#   4. stops and starts the whole stack: the customer, the order history and the stock survived
#      in the volumes;
# and finally removes the stack and its volumes (`down -v`), also when a step failed. It prints
# the figures of the closing notes: image sizes, build time, time from `up` to healthy and the
# time a killed mediator takes to serve again.
#
#   scripts/compose-test.sh
#
# Environment:
#   WONDERLAND_COMPOSE_TEST_PORT     host port of the balancer (default 18080)
#   WONDERLAND_COMPOSE_TEST_PROJECT  compose project name (default wonderland-compose-test)
#   WONDERLAND_COMPOSE_TEST_KEEP     1: leave the stack running at the end (default: down -v)
#   WONDERLAND_SETUP_PODMAN          path of setup-podman.sh (default: found beside the checkout)
# Functions below run from traps: shellcheck cannot see them called.
# shellcheck disable=SC2317
set -euo pipefail

WL_PROG=compose-test.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ "$(id -u)" == 0 ]] || wl_die "run as root (rootful Podman)"
port="${WONDERLAND_COMPOSE_TEST_PORT:-18080}"
project="${WONDERLAND_COMPOSE_TEST_PROJECT:-wonderland-compose-test}"
base="http://127.0.0.1:$port"
started=$SECONDS

# --- Podman -----------------------------------------------------------------------------------
setup="${WONDERLAND_SETUP_PODMAN:-}"
if [[ -z "$setup" ]]; then
  for f in "$WL_REPO_DIR/../shared/containers/setup-podman.sh" /work/shared/containers/setup-podman.sh; do
    [[ -f "$f" ]] && setup="$f" && break
  done
fi
if [[ -n "$setup" ]]; then
  bash "$setup"
elif ! command -v podman-compose >/dev/null || ! podman image exists docker.io/library/debian:bookworm-slim; then
  wl_die "no setup-podman.sh found (set WONDERLAND_SETUP_PODMAN) and Podman is not ready"
fi
command -v curl >/dev/null || wl_die "curl is missing (scripts/deps.sh)"

# Fresh secrets for this stack, from the environment (compose.yaml reads them from there or .env).
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
export WONDERLAND_RABBITMQ_PASSWORD WONDERLAND_RABBITMQ_COOKIE WONDERLAND_PG_PASSWORD
export WONDERLAND_ADMIN_TOKEN WONDERLAND_FINGERPRINT_KEY WONDERLAND_PAYMENT_KEY
WONDERLAND_RABBITMQ_PASSWORD="$(hex 16)" WONDERLAND_RABBITMQ_COOKIE="$(hex 24)"
WONDERLAND_PG_PASSWORD="$(hex 16)" WONDERLAND_ADMIN_TOKEN="$(hex 24)"
WONDERLAND_FINGERPRINT_KEY="$(hex 32)" WONDERLAND_PAYMENT_KEY="$(hex 32)"
export WONDERLAND_PUBLIC_PORT="$port" WONDERLAND_PUBLIC_ADDRESS=127.0.0.1

# podman-compose prints every podman command, environment included: its output goes to a file
# (shown when the test fails), not to the log of the run.
compose() { (cd "$WL_REPO_DIR" && podman-compose -p "$project" -f compose.yaml "$@") >>"$compose_log" 2>&1; }
container() { printf '%s_%s_1\n' "$project" "$1"; }
SERVICES=(rabbitmq-1 rabbitmq-2 rabbitmq-3 postgres logging inventory customer payment
  notification mediator-1 mediator-2 balancer)

compose_log="$(mktemp)"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  rm -f "${body_file:-}"
  if ((rc != 0)); then
    wl_error "failed; podman-compose's last lines, then every container's, follow"
    tail -n 30 "$compose_log" >&2
    for s in "${SERVICES[@]}"; do
      printf '\n==== %s\n' "$s" >&2
      podman logs --tail 30 "$(container "$s")" >&2 2>&1 || true
    done
    # Last, so that the end of a long log (all a CI summary may keep) says what failed.
    wl_error "failed: ${failure:-exit status $rc (the reason is above the logs)}"
  fi
  if [[ "${WONDERLAND_COMPOSE_TEST_KEEP:-0}" == 1 ]]; then
    wl_info "the stack is left running (project $project, $base)"
  else
    compose down -v >/dev/null 2>&1 || true
    podman volume ls -q | grep "^${project}_" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  fi
  rm -f "$compose_log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failure=""
fail() {
  failure="$*"
  wl_error "$*"
  exit 1
}

# wait_healthy SECONDS: until every container passes its health check. The checks are run
# here (`podman healthcheck run` also records the result in the container's status): without
# systemd, Podman runs no health check by itself, and a status kept from before a restart of
# the stack would say nothing of the new processes.
wait_healthy() {
  local deadline=$((SECONDS + $1)) s waiting=("${SERVICES[@]}") left
  while :; do
    left=()
    for s in "${waiting[@]}"; do
      podman healthcheck run "$(container "$s")" >/dev/null 2>&1 || left+=("$s")
    done
    ((${#left[@]} == 0)) && return 0
    waiting=("${left[@]}")
    ((SECONDS < deadline)) || fail "not healthy after $1 s: ${waiting[*]}"
    sleep 2
  done
}

# --- HTTP through the balancer ----------------------------------------------------------------
body_file="$(mktemp)"
# api METHOD PATH [JSON] [TOKEN] [HEADER...]: the status code on stdout, the body in $body_file.
api() {
  local method="$1" path="$2" data="${3:-}" token="${4:-}" args=()
  shift $(($# < 4 ? $# : 4))
  args=(-s -o "$body_file" -w '%{http_code}' -X "$method" --max-time 30)
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  local h
  for h in "$@"; do args+=(-H "$h"); done
  curl "${args[@]}" "$base$path" || printf '000'
}
# json EXPRESSION: evaluates a Python expression over the last body (bound to `b`).
json() { python3 -c "import json,sys; b=json.load(open(sys.argv[1])); print($1)" "$body_file"; }
expect() {  # expect STATUS GOT WHAT
  [[ "$2" == "$1" ]] || fail "$3: expected HTTP $1, got $2: $(head -c 400 "$body_file")"
}

card() {  # card NUMBER: a card payment
  printf '{"method":"visa","card_number":"%s","expiry":"12/%s","cvv":"123"}' "$1" "$(( $(date +%y) + 3 ))"
}

# buy TOKEN ISBN QUANTITY CARD: places an order (a fresh idempotency key); prints its id.
buy() {
  local status
  status="$(api PUT "/api/basket/items/$2" "{\"quantity\":$3}" "$1")"
  expect 200 "$status" "basket"
  status="$(api POST /api/orders "{\"payment\":$(card "$4")}" "$1" \
    "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)")"
  [[ "$status" == 201 || "$status" == 202 ]] || fail "order: HTTP $status: $(head -c 400 "$body_file")"
  json 'b["order_id"]'
}

# settle TOKEN ORDER SECONDS: the order's final status (confirmed or failed).
settle() {
  local deadline=$((SECONDS + $3)) status state
  while ((SECONDS < deadline)); do
    status="$(api GET "/api/orders/$2?wait_ms=5000" "" "$1")"
    if [[ "$status" == 200 ]]; then
      state="$(json 'b["status"]')"
      [[ "$state" == confirmed || "$state" == failed ]] && { printf '%s\n' "$state"; return 0; }
    fi
    sleep 0.5
  done
  fail "order $2 did not settle within $3 s (last: HTTP $status $(head -c 300 "$body_file"))"
}

stock() {  # stock ISBN
  expect 200 "$(api GET "/api/books/$1")" "book $1"
  json 'b["stock"]'
}

# --- 1. build and start ---------------------------------------------------------------------
wl_section "images: podman-compose build"
build_started=$SECONDS
# Its output has no secrets (nothing secret is passed to a build): shown as it goes.
(cd "$WL_REPO_DIR" && podman-compose -p "$project" -f compose.yaml build)
build_s=$((SECONDS - build_started))

wl_section "stack: podman-compose up -d (project $project, balancer on $base)"
compose down -v >/dev/null 2>&1 || true
up_started=$SECONDS
compose up -d
wait_healthy 420
healthy_s=$((SECONDS - up_started))
wl_info "every container is healthy ${healthy_s} s after up"

# --- 2. a customer buys ---------------------------------------------------------------------
wl_section "through the balancer: sign up, buy, read the email, the workflow and the logs"
user="compose_$(hex 4)"
password='correct horse battery staple'
expect 201 "$(api POST /api/customers "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"$password\",\"first_name\":\"Compose\",\"last_name\":\"Test\"}")" "sign up"
expect 201 "$(api POST /api/sessions "{\"username\":\"$user\",\"password\":\"$password\"}")" "sign in"
token="$(json 'b["token"]')"
expect 200 "$(api GET '/api/books?page_size=50')" "catalogue"
isbn="$(json 'next(x["isbn"] for x in b["items"] if x["stock"] >= 20)')"
stock_before="$(stock "$isbn")"

good=4242424242424242
declined=4000000000000002
confirmed_id="$(buy "$token" "$isbn" 1 "$good")"
[[ "$(settle "$token" "$confirmed_id" 60)" == confirmed ]] || fail "order $confirmed_id did not confirm"
declined_id="$(buy "$token" "$isbn" 1 "$declined")"
[[ "$(settle "$token" "$declined_id" 60)" == failed ]] || fail "order $declined_id did not fail"
wl_info "order $confirmed_id confirmed, order $declined_id failed (declined card)"

# The confirmation email with its PDF invoice, in the notification service's volume.
mailed=""
for _ in $(seq 1 60); do
  mailed="$(podman exec "$(container notification)" sh -c \
    "grep -l 'invoice-$confirmed_id.pdf' /var/lib/wonderland/outbox/*.eml 2>/dev/null" || true)"
  [[ -n "$mailed" ]] && break
  sleep 1
done
[[ -n "$mailed" ]] || fail "no email with invoice-$confirmed_id.pdf in the notification outbox"
wl_info "email: $mailed"

# The order is confirmed at the purchase's pivot; its workflow completes once the announcement
# is confirmed by the broker, moments later.
for _ in $(seq 1 30); do
  expect 200 "$(api GET "/api/workflows/$confirmed_id" "" "$WONDERLAND_ADMIN_TOKEN")" "operator workflow"
  [[ "$(json 'b["status"]')" == completed ]] && break
  sleep 1
done
[[ "$(json 'b["status"]')" == completed ]] || fail "workflow $confirmed_id: $(head -c 300 "$body_file")"
expect 401 "$(api GET "/api/workflows/$confirmed_id")" "operator workflow without the token"

logged=0
for _ in $(seq 1 30); do
  if [[ "$(api GET "/api/logs?correlation_id=$confirmed_id&limit=200" "" "$WONDERLAND_ADMIN_TOKEN")" == 200 ]]; then
    logged="$(json 'len({r.get("service") for r in b["records"]})')"
    ((logged >= 3)) && break
  fi
  sleep 1
done
((logged >= 3)) || fail "the logs of order $confirmed_id name $logged services: $(head -c 300 "$body_file")"
wl_info "logs of the order: records from $logged services"

# --- 3. a mediator container dies mid-order ---------------------------------------------------
wl_section "SIGKILL of mediator-1 while orders are in flight"
victim="$(container mediator-1)"
old_pid="$(podman inspect -f '{{.State.Pid}}' "$victim")"
restarts_before="$(podman inspect -f '{{.RestartCount}}' "$victim")"
in_flight=()
for _ in 1 2 3 4; do in_flight+=("$(buy "$token" "$isbn" 1 "$good")"); done
killed_at=$SECONDS
# The container's main process dies as in a crash (`podman kill` would count as a stop by the
# user, which a restart policy respects).
kill -KILL "$old_pid"
for id in "${in_flight[@]}"; do
  [[ "$(settle "$token" "$id" 90)" == confirmed ]] || fail "order $id did not confirm after the kill"
done
wl_info "the ${#in_flight[@]} orders in flight at the kill are confirmed"
back_s=""
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
  pid="$(podman inspect -f '{{.State.Pid}}' "$victim" 2>/dev/null || echo 0)"
  if [[ "$pid" != 0 && "$pid" != "$old_pid" ]] &&
    podman exec "$victim" wonderland-healthcheck --http http://127.0.0.1:8080/readyz >/dev/null 2>&1; then
    back_s=$((SECONDS - killed_at))
    break
  fi
  sleep 0.5
done
[[ -n "$back_s" ]] || fail "mediator-1 did not come back by itself within 120 s"
restarts_after="$(podman inspect -f '{{.RestartCount}}' "$victim")"
((restarts_after > restarts_before)) || fail "mediator-1's restart count did not grow"
wl_info "mediator-1 restarted by its restart policy and ready ${back_s} s after the kill"
bought=$((1 + ${#in_flight[@]}))

# --- 4. the whole stack restarts ------------------------------------------------------------
wl_section "stop and start the whole stack: the volumes keep the data"
stock_mid="$(stock "$isbn")"
((stock_mid == stock_before - bought)) ||
  fail "stock of $isbn is $stock_mid, expected $stock_before - $bought"
# The order history holds the confirmed orders (the purchase records them at its pivot).
expect 200 "$(api GET /api/orders "" "$token")" "order history"
history="$(json 'sorted(o["order_id"] for o in b["orders"])')"
orders="$(json 'len(b["orders"])')"
((orders == bought)) || fail "order history has $orders orders, expected the $bought confirmed: $history"
compose stop
compose up -d
wait_healthy 420
# A retryable answer (503, 504) is what a client sees while the balancer and the mediators find
# their services again; a client retries it, and so does this test, for a while.
for _ in $(seq 1 15); do
  status="$(api POST /api/sessions "{\"username\":\"$user\",\"password\":\"$password\"}")"
  [[ "$status" == 503 || "$status" == 504 ]] || break
  wl_info "sign in after the restart: HTTP $status (retryable); again in 2 s"
  sleep 2
done
expect 201 "$status" "sign in after the restart"
token="$(json 'b["token"]')"
expect 200 "$(api GET /api/orders "" "$token")" "order history after the restart"
[[ "$(json 'sorted(o["order_id"] for o in b["orders"])')" == "$history" ]] ||
  fail "order history after the restart differs: $(head -c 400 "$body_file"), before: $history"
stock_after="$(stock "$isbn")"
((stock_after == stock_mid)) || fail "stock of $isbn after the restart is $stock_after, expected $stock_mid"
wl_info "after the restart: the customer signs in, $orders orders in the history, stock $stock_after"

# --- figures --------------------------------------------------------------------------------
wl_section "figures"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'wonderland-(app|rabbitmq|postgres|balancer)' || true
printf 'build (podman-compose build): %s s\n' "$build_s"
printf 'up to every container healthy: %s s\n' "$healthy_s"
printf 'killed mediator container serving again: %s s\n' "$back_s"
printf 'compose test passed in %s s\n' "$((SECONDS - started))"
