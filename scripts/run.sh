#!/usr/bin/env bash
# The run command: installs what is missing, builds, starts RabbitMQ and PostgreSQL, then every
# service binary that the build produced. Ctrl-C (or SIGTERM) stops the services, then the
# infrastructure. If a service exits on its own, everything is stopped and the status is 1.
#
#   scripts/run.sh
#
# Environment: the variables of README.md, "Configuration" (ports, var dir, log level...).
# Logs: $WONDERLAND_VAR_DIR/logs/<service>.log, plus the infrastructure's (scripts/infra.sh logs).
# Functions below run from traps: shellcheck cannot see them called.
# shellcheck disable=SC2317
set -euo pipefail

WL_PROG=run.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Start order: the log collector first, the mediator (the entry point) last.
SERVICES=(
  wonderland-logging
  wonderland-inventory
  wonderland-customer
  wonderland-payment
  wonderland-notification
  wonderland-mediator
)
STOP_TIMEOUT_S="${WONDERLAND_STOP_TIMEOUT_S:-10}"

INFRA="$WL_REPO_DIR/scripts/infra.sh"
build_dir="$(wl_build_dir)"
WONDERLAND_VAR_DIR="$(wl_abspath "${WONDERLAND_VAR_DIR:-var}")"
export WONDERLAND_VAR_DIR
log_dir="$WONDERLAND_VAR_DIR/logs"

declare -A svc_pid=()    # service name -> pid
declare -A pid_svc=()    # pid -> service name
infra_started=0
idle_pid=""

# find_binary NAME: path of a built executable called NAME (empty when not built).
find_binary() {
  local name="$1" f
  for f in "$build_dir/bin/$name" "$build_dir/$name"; do
    [[ -f "$f" && -x "$f" ]] && {
      printf '%s\n' "$f"
      return 0
    }
  done
  find "$build_dir" -type f -name "$name" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null |
    sort | head -n 1
}

stop_services() {
  local name pid deadline
  ((${#svc_pid[@]} == 0)) && return 0
  wl_info "stopping services: ${!svc_pid[*]}"
  for pid in "${svc_pid[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + STOP_TIMEOUT_S))
  for name in "${!svc_pid[@]}"; do
    pid="${svc_pid[$name]}"
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      wl_warn "$name (pid $pid) still running after ${STOP_TIMEOUT_S} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  svc_pid=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  trap '' INT TERM
  [[ -n "$idle_pid" ]] && kill "$idle_pid" 2>/dev/null
  stop_services
  if ((infra_started)); then
    wl_info "stopping the infrastructure"
    "$INFRA" stop all || rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'wl_info "interrupted"; exit 0' INT TERM

wl_section "dependencies (scripts/deps.sh)"
wl_deps

wl_section "build: $build_dir"
"$WL_REPO_DIR/scripts/build.sh"

wl_section "infrastructure (scripts/infra.sh)"
infra_started=1
"$INFRA" start all
eval "$("$INFRA" env)"

wl_section "services"
mkdir -p "$log_dir"
# Paths the services read, made absolute so that they do not depend on the working directory.
export WONDERLAND_WORKFLOWS_DIR="${WONDERLAND_WORKFLOWS_DIR:-$WL_REPO_DIR/workflows}"
export WONDERLAND_WEB_DIR="${WONDERLAND_WEB_DIR:-$WL_REPO_DIR/web}"
export WONDERLAND_CATALOGUE="${WONDERLAND_CATALOGUE:-$WL_REPO_DIR/data/catalogue.json}"
export WONDERLAND_JOURNAL_PATH="${WONDERLAND_JOURNAL_PATH:-$WONDERLAND_VAR_DIR/mediator/journal.db}"
export WONDERLAND_HTTP_PORT="${WONDERLAND_HTTP_PORT:-8080}"
# The operator token: kept in a 0600 file in the var dir, so that it survives restarts of the
# run command. The mediator reads it from that file (WONDERLAND_ADMIN_TOKEN_FILE): it is in no
# process environment and no log; it is printed once below, to a terminal only.
token_file=""
if [[ -z "${WONDERLAND_ADMIN_TOKEN:-}" ]]; then
  token_file="${WONDERLAND_ADMIN_TOKEN_FILE:-$WONDERLAND_VAR_DIR/admin-token}"
  if [[ ! -s "$token_file" ]]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
  fi
  chmod 600 "$token_file"
  export WONDERLAND_ADMIN_TOKEN_FILE="$token_file"
fi
if [[ -n "$token_file" ]]; then
  if [[ -t 1 ]]; then
    token_line="admin token $(head -n1 "$token_file")  (kept in $token_file; operator routes: Authorization: Bearer <token>)"
  else
    token_line="admin token in $token_file (printed only to a terminal)"
  fi
else
  token_line="admin token from WONDERLAND_ADMIN_TOKEN (operator routes: Authorization: Bearer <token>)"
fi
for name in "${SERVICES[@]}"; do
  bin="$(find_binary "$name")"
  if [[ -z "$bin" ]]; then
    wl_info "$name: not built, skipped"
    continue
  fi
  log="$log_dir/$name.log"
  printf '\n==== %s starting %s\n' "$(date '+%F %T')" "$bin" >>"$log"
  # Own session: a Ctrl-C reaches this script only, which then stops the services in order.
  setsid "$bin" </dev/null >>"$log" 2>&1 &
  svc_pid[$name]=$!
  pid_svc[$!]=$name
  wl_info "$name: started, pid $!, log $log"
done

services_list="${!svc_pid[*]}"
cat <<EOF

Wonderland is running.
  RabbitMQ    $WONDERLAND_AMQP_URL
  PostgreSQL  $WONDERLAND_PG_URL
  services    ${services_list:-(none built)}
  storefront  http://127.0.0.1:$WONDERLAND_HTTP_PORT/
  console     http://127.0.0.1:$WONDERLAND_HTTP_PORT/console  (with the admin token below)
  API         http://127.0.0.1:$WONDERLAND_HTTP_PORT/api/openapi.json
  $token_line
  logs        $log_dir/<service>.log; infrastructure: scripts/infra.sh logs
Press Ctrl-C to stop.
EOF

if ((${#svc_pid[@]} == 0)); then
  wl_info "no service binaries are built yet; only the infrastructure runs"
  while :; do
    sleep 3600 &
    idle_pid=$!
    wait "$idle_pid" || true
  done
fi

# Wait for a service to exit: that ends the run.
exited_pid=""
status=0
wait -n -p exited_pid "${svc_pid[@]}" || status=$?
name="${pid_svc[$exited_pid]:-?}"
unset "svc_pid[$name]"
wl_error "$name exited on its own with status $status; stopping everything"
wl_tail "$log_dir/$name.log" 40
exit 1
