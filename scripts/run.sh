#!/usr/bin/env bash
# The run command: installs what is missing, builds, starts RabbitMQ and PostgreSQL, then every
# service binary that the build produced. Ctrl-C (or SIGTERM) stops the services, then the
# infrastructure, and the status is 0.
#
#   scripts/run.sh
#   WONDERLAND_MEDIATORS=3 scripts/run.sh
#   WONDERLAND_RABBITMQ_NODES=3 scripts/run.sh
#   WONDERLAND_RUN_SKIP_BUILD=1 scripts/run.sh    # the build dir as it is: no deps.sh, no build.sh
#
# Self-healing: a service (logging, inventory, customer, payment, notification, the mediator or
# mediators, HAProxy) that exits on its own is started again after a back-off, 0.5 s for its
# first exit, doubling at each further one up to 30 s, and back to 0.5 s once it has run for
# 60 s. Each restart is logged with the exit status (or the signal that killed it) and the last
# 20 lines of the service's log. Only a crash loop ends the run: the 5th exit of one service
# within 60 s stops everything with its last log lines, and the status is 1.
#
# WONDERLAND_MEDIATORS=N (default 1) with N > 1 runs N mediators sharing one journal in the
# infrastructure's PostgreSQL (WONDERLAND_JOURNAL_URL), mediator i on port WONDERLAND_HTTP_PORT+i
# with a stable id (kept in $WONDERLAND_VAR_DIR/mediator/mediator-<i>.id), behind HAProxy on
# WONDERLAND_HTTP_PORT (round robin, health check on /readyz, configured in
# $WONDERLAND_VAR_DIR/haproxy/haproxy.cfg). A mediator killed by a signal is started again only
# once its lease has lapsed (its id is still held until then).
#
# WONDERLAND_RABBITMQ_NODES=N (default 1) with N > 1 runs RabbitMQ as a cluster of N nodes
# (scripts/infra.sh), node i on AMQP port WONDERLAND_AMQP_PORT+i: every process gets the list of
# the nodes' URLs in WONDERLAND_AMQP_URL and declares its shared queues as quorum queues
# (WONDERLAND_AMQP_QUEUE_TYPE=quorum), so that a node can die (scripts/infra.sh kill-node 1)
# without losing messages. Queues left as classic queues by a single-node run are refused:
# start from empty broker data (scripts/infra.sh clean rabbitmq) when switching.
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
MEDIATORS="${WONDERLAND_MEDIATORS:-1}"
RABBITMQ_NODES="${WONDERLAND_RABBITMQ_NODES:-1}"
if ! wl_is_uint "$RABBITMQ_NODES" || ((RABBITMQ_NODES < 1 || RABBITMQ_NODES > 9)); then
  wl_die "WONDERLAND_RABBITMQ_NODES='$RABBITMQ_NODES' is not a number of RabbitMQ nodes (1-9)"
fi
export WONDERLAND_RABBITMQ_NODES="$RABBITMQ_NODES"
if ! wl_is_uint "$MEDIATORS" || ((MEDIATORS < 1 || MEDIATORS > 32)); then
  wl_die "WONDERLAND_MEDIATORS='$MEDIATORS' is not a number of mediators (1-32)"
fi
# Restarts: the back-off doubles from BACKOFF_MIN_MS to BACKOFF_MAX_MS and starts again from the
# bottom after STABLE_S of running; MAX_EXITS exits of one service within EXIT_WINDOW_S end the
# run.
BACKOFF_MIN_MS=500
BACKOFF_MAX_MS=30000
STABLE_S=60
MAX_EXITS=5
EXIT_WINDOW_S=60

INFRA="$WL_REPO_DIR/scripts/infra.sh"
build_dir="$(wl_build_dir)"
WONDERLAND_VAR_DIR="$(wl_abspath "${WONDERLAND_VAR_DIR:-var}")"
export WONDERLAND_VAR_DIR
log_dir="$WONDERLAND_VAR_DIR/logs"

declare -A svc_pid=()     # service name -> pid
declare -A pid_svc=()     # pid -> service name
declare -A svc_started=() # service name -> $SECONDS at its start
declare -A svc_log=()     # service name -> its log file
declare -A svc_bin=()     # service name -> its binary (the services started by binary alone)
declare -A svc_backoff=() # service name -> the delay before its next restart, in ms
declare -A svc_exits=()   # service name -> $SECONDS of its exits within EXIT_WINDOW_S
declare -A svc_due=()     # service name -> when to start it again, in ms (now_ms)
infra_started=0
idle_pid=""
haproxy_cfg=""
NOW_MS=0

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

# start_process NAME LOG COMMAND...: starts COMMAND in the background, its output appended to LOG.
start_process() {
  local name="$1" log="$2"
  shift 2
  printf '\n==== %s starting %s\n' "$(date '+%F %T')" "$*" >>"$log"
  # Own session: a Ctrl-C reaches this script only, which then stops the services in order.
  setsid "$@" </dev/null >>"$log" 2>&1 &
  svc_pid[$name]=$!
  pid_svc[$!]=$name
  svc_started[$name]=$SECONDS
  svc_log[$name]=$log
  wl_info "$name: started, pid $!, log $log"
}

# launch NAME: starts (or starts again) the service NAME.
launch() {
  case "$1" in
    haproxy)
      # -db: in the foreground, a child of this script like the services.
      start_process haproxy "$log_dir/haproxy.log" haproxy -db -f "$haproxy_cfg"
      ;;
    wonderland-mediator-*) start_mediator "${1##*-}" ;;
    *) start_process "$1" "$log_dir/$1.log" "${svc_bin[$1]}" ;;
  esac
}

# now_ms: sets NOW_MS to the wall clock in milliseconds.
now_ms() {
  local us="${EPOCHREALTIME/[.,]/}"
  NOW_MS=$((10#$us / 1000))
}

# seconds MS: MS milliseconds as seconds with a decimal point (for sleep and messages).
seconds() {
  printf '%d.%03d' "$(($1 / 1000))" "$(($1 % 1000))"
}

# exit_text STATUS: how a process with this wait status ended.
exit_text() {
  local sig=""
  if (($1 > 128)); then
    sig="$(kill -l "$(($1 - 128))" 2>/dev/null || true)"
  fi
  if [[ -n "$sig" ]]; then
    printf 'was killed by SIG%s (status %s)' "$sig" "$1"
  else
    printf 'exited with status %s' "$1"
  fi
}

# mediator_id I: the id of mediator I, the same at every run (kept in the var dir).
mediator_id() {
  local file="$WONDERLAND_VAR_DIR/mediator/mediator-$1.id" id=""
  [[ -s "$file" ]] && id="$(head -n1 "$file")"
  if [[ ! "$id" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
    id="$(cat /proc/sys/kernel/random/uuid)"
    printf '%s\n' "$id" >"$file"
  fi
  printf '%s\n' "$id"
}

# start_mediator I: starts mediator I of the multi-mediator mode (name wonderland-mediator-I).
start_mediator() {
  local i="$1"
  start_process "wonderland-mediator-$i" "$log_dir/wonderland-mediator-$i.log" \
    env WONDERLAND_HTTP_ADDRESS=127.0.0.1 WONDERLAND_HTTP_PORT="$((WONDERLAND_HTTP_PORT + i))" \
    WONDERLAND_MEDIATOR_ID="$(mediator_id "$i")" "$mediator_bin"
}

# write_haproxy_config FILE: the balancer in front of the mediators (deploy/haproxy/
# haproxy-config.sh, which the balancer's container image uses as well).
write_haproxy_config() {
  local i servers=()
  for ((i = 1; i <= MEDIATORS; i++)); do
    servers+=("127.0.0.1:$((WONDERLAND_HTTP_PORT + i))")
  done
  {
    printf '# Written by scripts/run.sh at every start (WONDERLAND_MEDIATORS=%s); edits are lost.\n' "$MEDIATORS"
    "$WL_REPO_DIR/deploy/haproxy/haproxy-config.sh" \
      "${WONDERLAND_HTTP_ADDRESS:-127.0.0.1}:$WONDERLAND_HTTP_PORT" "${servers[@]}"
  } >"$1"
}

# on_exit NAME PID STATUS: NAME ended on its own. Schedules its restart after its back-off (a
# mediator of several killed by a signal: after its lease too), or fails on a crash loop.
on_exit() {
  local name="$1" pid="$2" status="$3" ran t delay lease_ms recent=()
  ran=$((SECONDS - ${svc_started[$name]:-$SECONDS}))
  for t in ${svc_exits[$name]:-}; do
    if ((SECONDS - t < EXIT_WINDOW_S)); then
      recent+=("$t")
    fi
  done
  recent+=("$SECONDS")
  svc_exits[$name]="${recent[*]}"
  if ((${#recent[@]} >= MAX_EXITS)); then
    wl_error "$name (pid $pid) $(exit_text "$status") after $ran s, its ${#recent[@]}th exit within $EXIT_WINDOW_S s: a crash loop; stopping everything"
    wl_tail "${svc_log[$name]}" 40
    return 1
  fi
  if ((ran >= STABLE_S)); then
    svc_backoff[$name]=$BACKOFF_MIN_MS
  fi
  delay="${svc_backoff[$name]:-$BACKOFF_MIN_MS}"
  svc_backoff[$name]=$((delay * 2 < BACKOFF_MAX_MS ? delay * 2 : BACKOFF_MAX_MS))
  if [[ "$name" == wonderland-mediator-* ]] && ((status > 128)); then
    # Killed, it still holds its id in the shared journal until its lease lapses.
    lease_ms="${WONDERLAND_JOURNAL_LEASE_MS:-10000}"
    wl_is_uint "$lease_ms" || lease_ms=10000
    if ((delay < lease_ms + 1000)); then
      delay=$((lease_ms + 1000))
    fi
  fi
  wl_warn "$name (pid $pid) $(exit_text "$status") after $ran s; restarting it in $(seconds "$delay") s (exit ${#recent[@]} within $EXIT_WINDOW_S s; the ${MAX_EXITS}th stops everything)"
  wl_tail "${svc_log[$name]}" 20
  now_ms
  svc_due[$name]=$((NOW_MS + delay))
}

# restart_due: starts the services whose restart time has come.
restart_due() {
  local name
  now_ms
  for name in "${!svc_due[@]}"; do
    if ((svc_due[$name] <= NOW_MS)); then
      unset "svc_due[$name]"
      wl_info "$name: starting it again"
      launch "$name"
    fi
  done
}

# next_due_ms: milliseconds until the next restart is due (0 when one is late).
next_due_ms() {
  local name next=-1
  now_ms
  for name in "${!svc_due[@]}"; do
    if ((next < 0 || svc_due[$name] < next)); then
      next=${svc_due[$name]}
    fi
  done
  printf '%d\n' "$((next > NOW_MS ? next - NOW_MS : 0))"
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

if [[ "${WONDERLAND_RUN_SKIP_BUILD:-0}" == 1 ]]; then
  wl_info "WONDERLAND_RUN_SKIP_BUILD=1: the binaries of $build_dir as they are (no deps.sh, no build.sh)"
else
  wl_section "dependencies (scripts/deps.sh)"
  wl_deps

  wl_section "build: $build_dir"
  "$WL_REPO_DIR/scripts/build.sh"
fi

# The HTTP ports, before anything starts: a mediator that cannot bind would only exit, again and
# again, until the restart policy gave up (and a client could meanwhile reach whatever holds the
# port).
export WONDERLAND_HTTP_PORT="${WONDERLAND_HTTP_PORT:-8080}"
wl_require_port WONDERLAND_HTTP_PORT "$WONDERLAND_HTTP_PORT"
for ((i = 0; i <= (MEDIATORS > 1 ? MEDIATORS : 0); i++)); do
  wl_require_free_port wonderland-mediator "$((WONDERLAND_HTTP_PORT + i))" HTTP || exit 1
done

wl_section "infrastructure (scripts/infra.sh)"
infra_started=1
"$INFRA" start all
eval "$("$INFRA" env)"
# Every process started here runs on PostgreSQL's host, so it connects through the server's unix
# socket: a round trip costs less than over loopback TCP (docs/ARCHITECTURE.md, "Measuring it").
export WONDERLAND_PG_URL="$WONDERLAND_PG_SOCKET_URL"

wl_section "services"
mkdir -p "$log_dir"
# Paths the services read, made absolute so that they do not depend on the working directory.
export WONDERLAND_WORKFLOWS_DIR="${WONDERLAND_WORKFLOWS_DIR:-$WL_REPO_DIR/workflows}"
export WONDERLAND_WEB_DIR="${WONDERLAND_WEB_DIR:-$WL_REPO_DIR/web}"
export WONDERLAND_CATALOGUE="${WONDERLAND_CATALOGUE:-$WL_REPO_DIR/data/catalogue.json}"
export WONDERLAND_JOURNAL_PATH="${WONDERLAND_JOURNAL_PATH:-$WONDERLAND_VAR_DIR/mediator/journal.db}"
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
if ((MEDIATORS > 1)); then
  # Several mediators: one journal in PostgreSQL, one operator token and one fingerprint key
  # (the files next to WONDERLAND_JOURNAL_PATH unless set), the client's address from HAProxy.
  command -v haproxy >/dev/null 2>&1 || wl_die "haproxy is not installed (scripts/deps.sh)"
  for ((i = 1; i <= MEDIATORS; i++)); do
    wl_require_port "WONDERLAND_HTTP_PORT+$i" "$((WONDERLAND_HTTP_PORT + i))"
  done
  export WONDERLAND_JOURNAL_URL="${WONDERLAND_JOURNAL_URL:-$WONDERLAND_PG_URL}"
  if [[ -z "${WONDERLAND_FINGERPRINT_KEY:-}" ]]; then
    export WONDERLAND_FINGERPRINT_KEY_FILE="${WONDERLAND_FINGERPRINT_KEY_FILE:-$(dirname "$WONDERLAND_JOURNAL_PATH")/fingerprint.key}"
  fi
  export WONDERLAND_HTTP_TRUSTED_PROXIES="${WONDERLAND_HTTP_TRUSTED_PROXIES:-127.0.0.1}"
  mkdir -p "$WONDERLAND_VAR_DIR/mediator" "$WONDERLAND_VAR_DIR/haproxy"
fi
mediator_bin=""
for name in "${SERVICES[@]}"; do
  bin="$(find_binary "$name")"
  if [[ -z "$bin" ]]; then
    wl_info "$name: not built, skipped"
    continue
  fi
  if [[ "$name" == wonderland-mediator ]] && ((MEDIATORS > 1)); then
    mediator_bin="$bin"
    for ((i = 1; i <= MEDIATORS; i++)); do
      start_mediator "$i"
    done
    haproxy_cfg="$WONDERLAND_VAR_DIR/haproxy/haproxy.cfg"
    write_haproxy_config "$haproxy_cfg"
    haproxy -q -c -f "$haproxy_cfg" || wl_die "HAProxy refuses $haproxy_cfg"
    launch haproxy
    continue
  fi
  svc_bin[$name]="$bin"
  launch "$name"
done

services_list="${!svc_pid[*]}"
mediators_line=""
if [[ -n "$mediator_bin" ]]; then
  mediators_line="  mediators   $MEDIATORS on 127.0.0.1:$((WONDERLAND_HTTP_PORT + 1))-$((WONDERLAND_HTTP_PORT + MEDIATORS)), journal in PostgreSQL, behind HAProxy on port $WONDERLAND_HTTP_PORT
"
fi
rabbitmq_line="$WONDERLAND_AMQP_URL"
if ((RABBITMQ_NODES > 1)); then
  rabbitmq_line="cluster of $RABBITMQ_NODES nodes, quorum queues: $WONDERLAND_AMQP_URL
              (kill one: WONDERLAND_RABBITMQ_NODES=$RABBITMQ_NODES scripts/infra.sh kill-node 1; start-node 1 brings it back)"
fi
cat <<EOF

Wonderland is running.
  RabbitMQ    $rabbitmq_line
  PostgreSQL  $WONDERLAND_PG_URL
  services    ${services_list:-(none built)}
${mediators_line}  storefront  http://127.0.0.1:$WONDERLAND_HTTP_PORT/
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

# Wait for a service to exit, or for a restart to be due. A service that exits is started again
# after its back-off (on_exit); a crash loop ends the run.
while :; do
  exited_pid=""
  status=0
  # One that ended while this script was busy (restarting another) is no job for `wait -n` any
  # more; `wait PID` still has its status.
  for pid in "${svc_pid[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      exited_pid="$pid"
      wait "$pid" 2>/dev/null || status=$?
      break
    fi
  done
  if [[ -z "$exited_pid" ]]; then
    if ((${#svc_due[@]} > 0)); then
      # The next restart's timer, a job that `wait -n` also waits for.
      sleep "$(seconds "$(next_due_ms)")" &
      idle_pid=$!
    elif ((${#svc_pid[@]} == 0)); then
      wl_die "no service is running and none is to be started again"
    fi
    # (2>/dev/null: bash's own "Killed" line; on_exit says what happened.)
    wait -n -p exited_pid "${svc_pid[@]}" ${idle_pid:+"$idle_pid"} 2>/dev/null || status=$?
    if [[ -n "$idle_pid" ]]; then
      kill "$idle_pid" 2>/dev/null || true
      wait "$idle_pid" 2>/dev/null || true
      idle_pid=""
    fi
  fi
  if [[ -n "$exited_pid" && -n "${pid_svc[$exited_pid]:-}" ]]; then
    name="${pid_svc[$exited_pid]}"
    unset "svc_pid[$name]" "pid_svc[$exited_pid]"
    on_exit "$name" "$exited_pid" "$status" || exit 1
  fi
  restart_due
done
