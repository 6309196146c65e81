#!/usr/bin/env bash
# Local infrastructure: RabbitMQ and PostgreSQL run as the project's own processes, with their
# data, logs and configuration under $WONDERLAND_VAR_DIR. The system services (systemd units,
# /etc/rabbitmq, /var/lib/postgresql) are never used. The run command, the tests and CI all
# start the broker and the database through this script.
#
#   scripts/infra.sh start|stop|status|restart|clean|logs [rabbitmq|postgres|all]
#   eval "$(scripts/infra.sh env)"
#
# Several instances can run side by side: each one is identified by its port (and var dir).
# See the "Local infrastructure" section of README.md for the configuration variables.
set -euo pipefail

WL_PROG=infra.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat >&2 <<'EOF'
usage: scripts/infra.sh start|stop|status|restart [rabbitmq|postgres|all]
       scripts/infra.sh clean [rabbitmq|postgres|all]   stop, then delete the instance's data
       scripts/infra.sh logs [rabbitmq|postgres|all]    print the last lines of the logs
       scripts/infra.sh env                             print export lines for eval
       scripts/infra.sh kill-node|stop-node|start-node INDEX
                                 one RabbitMQ node of the cluster (WONDERLAND_RABBITMQ_NODES);
                                 kill-node sends SIGKILL, as a crash would
       scripts/infra.sh memory-alarm on|off [INDEX]
                                 raises or lifts RabbitMQ's memory alarm on one node (node 0
                                 unless INDEX): while it is raised the node stops reading from
                                 connections that publish, as it does when short of memory
EOF
}

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
VAR_DIR="$(realpath -m "$(wl_abspath "${WONDERLAND_VAR_DIR:-var}")")"
AMQP_PORT="${WONDERLAND_AMQP_PORT:-5672}"
PG_PORT="${WONDERLAND_PG_PORT:-5432}"
wl_require_port WONDERLAND_AMQP_PORT "$AMQP_PORT"
wl_require_port WONDERLAND_PG_PORT "$PG_PORT"
# A cluster of RMQ_NODES nodes on this machine: node i listens on AMQP_PORT + i and has its own
# node name, distribution port (RMQ_DIST_BASE + i) and directory; they share node 0's cookie.
RMQ_NODES="${WONDERLAND_RABBITMQ_NODES:-1}"
if ! wl_is_uint "$RMQ_NODES" || ((RMQ_NODES < 1 || RMQ_NODES > 9)); then
  wl_die "WONDERLAND_RABBITMQ_NODES='$RMQ_NODES' is not a number of nodes from 1 to 9"
fi
RMQ_NODE0_NAME="${WONDERLAND_RABBITMQ_NODE:-wonderland-$AMQP_PORT@localhost}"
RMQ_DIST_BASE="${WONDERLAND_RABBITMQ_DIST_PORT:-$((AMQP_PORT + 20000))}"
wl_require_port WONDERLAND_RABBITMQ_DIST_PORT "$RMQ_DIST_BASE"
wl_require_port "WONDERLAND_AMQP_PORT + WONDERLAND_RABBITMQ_NODES - 1" "$((AMQP_PORT + RMQ_NODES - 1))"
wl_require_port "WONDERLAND_RABBITMQ_DIST_PORT + WONDERLAND_RABBITMQ_NODES - 1" "$((RMQ_DIST_BASE + RMQ_NODES - 1))"
# Optional TLS (amqps://) listener, next to the plain one: a port and three PEM files.
AMQP_TLS_PORT="${WONDERLAND_AMQP_TLS_PORT:-}"
AMQP_TLS_CERT="" AMQP_TLS_KEY="" AMQP_TLS_CACERT=""
if [[ -n "$AMQP_TLS_PORT" ]]; then
  wl_require_port WONDERLAND_AMQP_TLS_PORT "$AMQP_TLS_PORT"
  [[ "$AMQP_TLS_PORT" != "$AMQP_PORT" ]] || wl_die "WONDERLAND_AMQP_TLS_PORT must differ from WONDERLAND_AMQP_PORT"
  for v in WONDERLAND_AMQP_TLS_CERT WONDERLAND_AMQP_TLS_KEY WONDERLAND_AMQP_TLS_CACERT; do
    [[ -n "${!v:-}" ]] || wl_die "WONDERLAND_AMQP_TLS_PORT is set: $v (a PEM file) is required too"
  done
  AMQP_TLS_CERT="$(realpath -m "$(wl_abspath "$WONDERLAND_AMQP_TLS_CERT")")"
  AMQP_TLS_KEY="$(realpath -m "$(wl_abspath "$WONDERLAND_AMQP_TLS_KEY")")"
  AMQP_TLS_CACERT="$(realpath -m "$(wl_abspath "$WONDERLAND_AMQP_TLS_CACERT")")"
fi
TIMEOUT_S="${WONDERLAND_INFRA_TIMEOUT_S:-60}"
if ! wl_is_uint "$TIMEOUT_S" || ((TIMEOUT_S == 0)); then
  wl_die "WONDERLAND_INFRA_TIMEOUT_S='$TIMEOUT_S' is not a positive number of seconds"
fi
RMQ_BIN="${WONDERLAND_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}"
# How long the broker's Erlang schedulers spin for more work before they sleep (RabbitMQ passes
# it to the VM as +sbwt, +sbwtdcpu and +sbwtdio). RabbitMQ's own default is none; a short spin
# saves the wake-ups of a scheduler per message (docs/ARCHITECTURE.md, "Measuring it").
RMQ_BUSY_WAIT="${WONDERLAND_RABBITMQ_BUSY_WAIT:-very_short}"
case "$RMQ_BUSY_WAIT" in
  none | very_short | short | medium | long | very_long) ;;
  *) wl_die "WONDERLAND_RABBITMQ_BUSY_WAIT='$RMQ_BUSY_WAIT' is not none, very_short, short, medium, long or very_long" ;;
esac
# More arguments for the broker's Erlang VM, last (e.g. '+JPperf true': perf then names its
# Erlang functions).
RMQ_ERL_ARGS="${WONDERLAND_RABBITMQ_ERL_ARGS:-}"
PG_BIN="${WONDERLAND_PG_BIN:-/usr/lib/postgresql/15/bin}"
# PostgreSQL refuses to run as root: as root the server runs as this system user.
PG_OS_USER="${WONDERLAND_PG_OS_USER:-postgres}"
# PostgreSQL superuser (local socket, trust) and the application's role and database.
PG_SUPERUSER=postgres
PG_APP_ROLE=wonderland
PG_APP_PASSWORD=wonderland
PG_APP_DB=wonderland

RMQ_DIR0="$VAR_DIR/rabbitmq-$AMQP_PORT"
PG_DIR="$VAR_DIR/postgres-$PG_PORT"
# Every process of an instance carries WONDERLAND_INFRA_INSTANCE=<id> in its environment, so
# that stop can find (and, if need be, kill) the leftovers of this instance and of no other.
PG_ID="postgres:$PG_DIR"

# Every node's URL, comma-separated (one URL for a single node).
AMQP_URL=""
for ((i = 0; i < RMQ_NODES; i++)); do
  AMQP_URL+="${AMQP_URL:+,}amqp://guest:guest@127.0.0.1:$((AMQP_PORT + i))/"
done
AMQPS_URL=""
[[ -n "$AMQP_TLS_PORT" ]] && AMQPS_URL="amqps://guest:guest@127.0.0.1:$AMQP_TLS_PORT/"
PG_URL="postgresql://$PG_APP_ROLE:$PG_APP_PASSWORD@127.0.0.1:$PG_PORT/$PG_APP_DB"

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------------------------

# instance_pids ID: pids of the processes of one instance (epmd, shared by all Erlang nodes of
# the machine, is left out).
instance_pids() {
  local f pid comm
  local -a files=()
  mapfile -t files < <(grep -lzxF -- "WONDERLAND_INFRA_INSTANCE=$1" /proc/[0-9]*/environ 2>/dev/null || true)
  for f in "${files[@]}"; do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || continue
    [[ "$comm" == epmd ]] && continue
    printf '%s\n' "$pid"
  done
}

instance_alive() {
  [[ -n "$(instance_pids "$1")" ]]
}

# pid_running PID: true while PID exists and is not a zombie.
pid_running() {
  local stat
  [[ -n "$1" ]] || return 1
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# wait_gone ID SECONDS: true once no process of the instance is left.
wait_gone() {
  local deadline=$((SECONDS + $2))
  while instance_alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# kill_leftovers ID NAME: TERM, then KILL, whatever is left of one instance.
kill_leftovers() {
  local -a pids
  mapfile -t pids < <(instance_pids "$1")
  ((${#pids[@]} == 0)) && return 0
  wl_warn "$2: terminating leftover processes ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait_gone "$1" 10 && return 0
  mapfile -t pids < <(instance_pids "$1")
  ((${#pids[@]} == 0)) && return 0
  wl_warn "$2: killing leftover processes ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait_gone "$1" 5 || wl_error "$2: processes ${pids[*]} do not die"
}

tcp_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# close_inherited_fds: closes every descriptor above 2 of the current (sub)shell, so that a
# server started from it holds no lock, pipe or file of its caller (a test runner waiting for
# the end of a pipe, for example).
close_inherited_fds() {
  local f fd
  for f in /proc/"$BASHPID"/fd/*; do
    fd="${f##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# Serialises start/stop of one instance between concurrent invocations. The lock file lives in
# the var dir, on fds 8 (rabbitmq) and 9 (postgres).
lock_instance() {
  local fd="$1" name="$2"
  local held_var="LOCK_HELD_$fd"
  [[ "${!held_var:-}" == 1 ]] && return 0
  mkdir -p "$VAR_DIR"
  eval "exec $fd>>\"\$VAR_DIR/.$name.lock\""
  flock -w "$TIMEOUT_S" "$fd" || wl_die "$name: another infra.sh holds $VAR_DIR/.$name.lock"
  printf -v "$held_var" 1
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ
# ---------------------------------------------------------------------------------------------
# rmq_select INDEX: makes node INDEX of the cluster the one the rmq_* functions below work on.
# Node 0 carries the TLS listener, if any.
rmq_select() {
  RMQ_INDEX="$1"
  NODE_PORT=$((AMQP_PORT + RMQ_INDEX))
  NODE_URL="amqp://guest:guest@127.0.0.1:$NODE_PORT/"
  RMQ_DIST_PORT=$((RMQ_DIST_BASE + RMQ_INDEX))
  RMQ_NODE="wonderland-$NODE_PORT@localhost"
  ((RMQ_INDEX == 0)) && RMQ_NODE="$RMQ_NODE0_NAME"
  RMQ_DIR="$VAR_DIR/rabbitmq-$NODE_PORT"
  RMQ_ID="rabbitmq:$RMQ_DIR"
  RMQ_LOG="$RMQ_DIR/log/rabbit.log"
  RMQ_OUT="$RMQ_DIR/log/server.out"
  NODE_TLS_PORT="" NODE_AMQPS_URL=""
  if ((RMQ_INDEX == 0)) && [[ -n "$AMQP_TLS_PORT" ]]; then
    NODE_TLS_PORT="$AMQP_TLS_PORT"
    NODE_AMQPS_URL="$AMQPS_URL"
  fi
  RMQ_NAME=rabbitmq
  ((RMQ_NODES > 1)) && RMQ_NAME="rabbitmq node $RMQ_INDEX"
  # Environment shared by the server and the CLI tools: HOME holds the Erlang cookie.
  rmq_env=(
    HOME="$RMQ_DIR"
    LC_ALL=C.UTF-8
    RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
    RABBITMQ_NODENAME="$RMQ_NODE"
    RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
    RABBITMQ_LOG_BASE="$RMQ_DIR/log"
    RABBITMQ_LOGS="$RMQ_LOG"
    RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
    RABBITMQ_PID_FILE="$RMQ_DIR/rabbitmq.pid"
    RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
    ERL_CRASH_DUMP="$RMQ_DIR/log/erl_crash.dump"
  )
}
rmq_select 0

# RABBITMQ_* variables of the caller must not leak into an instance.
rmq_unset_args() {
  local v
  for v in $(compgen -e); do
    [[ "$v" == RABBITMQ_* ]] && printf -- '-u\n%s\n' "$v"
  done
  return 0
}

# rmqctl SECONDS ARGS...: rabbitmqctl against this instance, bounded in time.
rmqctl() {
  local secs="$1"
  shift
  local -a unset_args
  mapfile -t unset_args < <(rmq_unset_args)
  (cd "$RMQ_DIR" && timeout --kill-after=5 "$secs" env "${unset_args[@]}" "${rmq_env[@]}" \
    "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" "$@" 8>&- 9>&-)
}

rmq_describe() {
  printf 'node %s, amqp 127.0.0.1:%s, ' "$RMQ_NODE" "$NODE_PORT"
  [[ -n "$NODE_TLS_PORT" ]] && printf 'amqps 127.0.0.1:%s, ' "$NODE_TLS_PORT"
  printf 'dist port %s, dir %s' "$RMQ_DIST_PORT" "$RMQ_DIR"
}

rmq_show_logs() {
  wl_tail "$RMQ_OUT" 40
  wl_tail "$RMQ_LOG" 40
}

rmq_write_config() {
  mkdir -p "$RMQ_DIR/log" "$RMQ_DIR/mnesia"
  cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by scripts/infra.sh on every start: edit the script, not this file.
listeners.tcp.default = 127.0.0.1:$NODE_PORT
# guest/guest may log in, from the loopback interface only.
loopback_users.guest = true
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.4
log.console = false
log.file.level = info
EOF
  if [[ -n "$NODE_TLS_PORT" ]]; then
    local f
    for f in "$AMQP_TLS_CERT" "$AMQP_TLS_KEY" "$AMQP_TLS_CACERT"; do
      [[ -r "$f" ]] || wl_die "rabbitmq: TLS listener: cannot read $f"
    done
    # Clients that present a certificate must have one signed by the CA; others log in with a
    # password, as on the plain listener.
    cat >>"$RMQ_DIR/rabbitmq.conf" <<EOF
listeners.ssl.default = 127.0.0.1:$NODE_TLS_PORT
ssl_options.certfile = $AMQP_TLS_CERT
ssl_options.keyfile = $AMQP_TLS_KEY
ssl_options.cacertfile = $AMQP_TLS_CACERT
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
  fi
  printf '[].\n' >"$RMQ_DIR/enabled_plugins"
  : >"$RMQ_DIR/rabbitmq-env.conf"
  # The server and the CLI tools authenticate to each other with this cookie ($HOME); the nodes
  # of a cluster all use node 0's. The nodes are started in parallel, so the cookie is created
  # at most once: written to a file of this node's own, then linked into place, which fails if
  # another node's start linked its cookie first (a plain write would overwrite, also as root,
  # and leave the nodes with different cookies).
  if [[ ! -s "$RMQ_DIR0/.erlang.cookie" ]]; then
    mkdir -p "$RMQ_DIR0"
    local letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ cookie="" b
    local fresh="$RMQ_DIR0/.erlang.cookie.$$.$RMQ_INDEX"
    for b in $(od -An -N32 -tu1 /dev/urandom); do cookie+="${letters:b%26:1}"; done
    (umask 077 && printf '%s' "$cookie" >"$fresh")
    chmod 400 "$fresh"
    ln "$fresh" "$RMQ_DIR0/.erlang.cookie" 2>/dev/null || true
    rm -f "$fresh"
  fi
  if [[ "$RMQ_DIR" != "$RMQ_DIR0" ]] && ! cmp -s "$RMQ_DIR0/.erlang.cookie" "$RMQ_DIR/.erlang.cookie"; then
    rm -f "$RMQ_DIR/.erlang.cookie"
    cp "$RMQ_DIR0/.erlang.cookie" "$RMQ_DIR/.erlang.cookie"
    chmod 400 "$RMQ_DIR/.erlang.cookie"
  fi
}

# Pid of the broker's launcher while this script starts it: until the launcher has exec'd
# the broker, no process carries the instance marker yet.
RMQ_LAUNCHER_PID=""

# rmq_wait_ready SECONDS: true once the node runs the broker and accepts AMQP connections;
# returns 2 early when the instance has no process left.
rmq_wait_ready() {
  local deadline=$((SECONDS + $1)) left
  while :; do
    instance_alive "$RMQ_ID" || pid_running "$RMQ_LAUNCHER_PID" || return 2
    if tcp_open "$NODE_PORT" && { [[ -z "$NODE_TLS_PORT" ]] || tcp_open "$NODE_TLS_PORT"; }; then
      left=$((deadline - SECONDS))
      ((left < 5)) && left=5
      if rmqctl "$left" -q await_startup >/dev/null 2>&1; then
        return 0
      fi
    fi
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

rmq_start() {
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  [[ -x "$RMQ_BIN/rabbitmq-server" ]] || wl_die "rabbitmq: $RMQ_BIN/rabbitmq-server not found (run scripts/deps.sh)"
  if instance_alive "$RMQ_ID"; then
    if rmq_wait_ready "$TIMEOUT_S"; then
      wl_info "$RMQ_NAME: already running ($(rmq_describe))"
      return 0
    fi
    wl_error "$RMQ_NAME: an instance is running but not answering; try: scripts/infra.sh restart rabbitmq"
    rmq_show_logs
    return 1
  fi
  wl_require_free_port "$RMQ_NAME" "$NODE_PORT" AMQP || return 1
  if [[ -n "$NODE_TLS_PORT" ]]; then
    wl_require_free_port "$RMQ_NAME" "$NODE_TLS_PORT" "AMQP over TLS" || return 1
  fi
  wl_require_free_port "$RMQ_NAME" "$RMQ_DIST_PORT" "Erlang distribution" || return 1
  rmq_write_config
  rm -f "$RMQ_DIR/rabbitmq.pid"
  printf '\n==== %s starting %s\n' "$(date '+%F %T')" "$RMQ_NODE" >>"$RMQ_OUT"
  wl_info "$RMQ_NAME: starting ($(rmq_describe))"
  local -a unset_args
  mapfile -t unset_args < <(rmq_unset_args)
  # setsid: the broker gets its own session, so a Ctrl-C in the caller's terminal does not
  # reach it; it is stopped through this script.
  (
    cd "$RMQ_DIR"
    close_inherited_fds
    exec setsid env "${unset_args[@]}" "${rmq_env[@]}" WONDERLAND_INFRA_INSTANCE="$RMQ_ID" \
      RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD="$RMQ_BUSY_WAIT" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} $RMQ_ERL_ARGS" \
      "$RMQ_BIN/rabbitmq-server" </dev/null >>"$RMQ_OUT" 2>&1
  ) &
  RMQ_LAUNCHER_PID=$!
  printf '%s\n' "$RMQ_LAUNCHER_PID" >"$RMQ_DIR/launcher.pid"
  local t0=$SECONDS rc=0
  rmq_wait_ready "$TIMEOUT_S" || rc=$?
  if ((rc == 0)); then
    wl_info "$RMQ_NAME: ready after $((SECONDS - t0)) s, $NODE_URL${NODE_AMQPS_URL:+ and $NODE_AMQPS_URL}"
    return 0
  fi
  if ((rc == 2)); then
    wl_error "$RMQ_NAME: the broker exited during startup"
  else
    wl_error "$RMQ_NAME: not ready after ${TIMEOUT_S} s (WONDERLAND_INFRA_TIMEOUT_S)"
  fi
  rmq_show_logs
  pid_running "$RMQ_LAUNCHER_PID" && kill -TERM "$RMQ_LAUNCHER_PID" 2>/dev/null
  kill_leftovers "$RMQ_ID" "$RMQ_NAME"
  return 1
}

rmq_stop() {
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  if ! instance_alive "$RMQ_ID"; then
    wl_info "$RMQ_NAME: not running ($(rmq_describe))"
    rm -f "$RMQ_DIR/rabbitmq.pid" "$RMQ_DIR/launcher.pid"
    return 0
  fi
  wl_info "$RMQ_NAME: stopping node $RMQ_NODE"
  local -a pidfile=()
  [[ -s "$RMQ_DIR/rabbitmq.pid" ]] && pidfile=("$RMQ_DIR/rabbitmq.pid")
  if ! rmqctl "$TIMEOUT_S" -q stop "${pidfile[@]}" >/dev/null 2>&1; then
    wl_warn "$RMQ_NAME: rabbitmqctl stop failed; terminating the processes"
  fi
  wait_gone "$RMQ_ID" 15 || true
  kill_leftovers "$RMQ_ID" "$RMQ_NAME"
  rm -f "$RMQ_DIR/rabbitmq.pid" "$RMQ_DIR/launcher.pid"
  wl_info "$RMQ_NAME: stopped"
}

rmq_status() {
  local pid=""
  [[ -s "$RMQ_DIR/rabbitmq.pid" ]] && pid="$(<"$RMQ_DIR/rabbitmq.pid")"
  if ! instance_alive "$RMQ_ID"; then
    printf '%s: stopped (%s)\n' "$RMQ_NAME" "$(rmq_describe)"
    return 3
  fi
  if tcp_open "$NODE_PORT"; then
    printf '%s: running, pid %s (%s) %s\n' "$RMQ_NAME" "${pid:-?}" "$(rmq_describe)" "$NODE_URL"
    return 0
  fi
  printf '%s: starting or unhealthy: processes alive, port %s closed (%s)\n' "$RMQ_NAME" "$NODE_PORT" "$(rmq_describe)"
  return 3
}

rmq_clean_node() {
  rmq_stop
  wl_info "$RMQ_NAME: deleting $RMQ_DIR"
  rm -rf "$RMQ_DIR"
}

# rmq_kill: SIGKILL to every process of the node (a crash, for tests and demos).
rmq_kill() {
  local -a pids
  mapfile -t pids < <(instance_pids "$RMQ_ID")
  if ((${#pids[@]} == 0)); then
    wl_info "$RMQ_NAME: not running ($(rmq_describe))"
    return 0
  fi
  wl_info "$RMQ_NAME: killing processes ${pids[*]} (SIGKILL)"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait_gone "$RMQ_ID" 10 || wl_error "$RMQ_NAME: processes ${pids[*]} do not die"
  rm -f "$RMQ_DIR/rabbitmq.pid" "$RMQ_DIR/launcher.pid"
}

# rmq_join: node RMQ_INDEX (started) joins node 0's cluster unless it is a member already.
rmq_join() {
  local status
  status="$(rmqctl "$TIMEOUT_S" -q cluster_status --formatter json 2>/dev/null)" || status=""
  [[ "$status" == *"\"$RMQ_NODE0_NAME\""* ]] && return 0
  wl_info "$RMQ_NAME: joining the cluster of $RMQ_NODE0_NAME"
  # join_cluster sometimes finds node 0 reachable but its Erlang distribution not answering yet
  # ("TCP connection succeeded but Erlang distribution failed") on a loaded machine: a few tries.
  local joined=0 attempt
  if rmqctl "$TIMEOUT_S" -q stop_app >/dev/null; then
    for attempt in 1 2 3 4 5; do
      if rmqctl "$TIMEOUT_S" -q join_cluster "$RMQ_NODE0_NAME" >/dev/null; then
        joined=1
        break
      fi
      wl_info "$RMQ_NAME: join attempt $attempt failed; trying again in 2 s"
      sleep 2
    done
  fi
  if ((joined == 0)) || ! rmqctl "$TIMEOUT_S" -q start_app >/dev/null; then
    wl_error "$RMQ_NAME: could not join the cluster of $RMQ_NODE0_NAME"
    rmq_show_logs
    return 1
  fi
}

# rmq_each ACTION: ACTION on every node, in parallel (the nodes of a cluster that knew each other
# wait for their peers while starting); the status is the worst of them.
rmq_each() {
  local action="$1" i rc=0 r
  if ((RMQ_NODES == 1)); then
    "$action"
    return
  fi
  local -a pids=()
  for ((i = 0; i < RMQ_NODES; i++)); do
    (
      set -e
      rmq_select "$i"
      "$action"
    ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    r=0
    wait "$i" || r=$?
    ((r > rc)) && rc=$r
  done
  return "$rc"
}

rmq_start_cluster() {
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  local t0=$SECONDS i
  rmq_each rmq_start || return 1
  ((RMQ_NODES == 1)) && return 0
  for ((i = 1; i < RMQ_NODES; i++)); do
    rmq_select "$i"
    rmq_join || return 1
  done
  rmq_select 0
  wl_info "rabbitmq: cluster of $RMQ_NODES nodes ready after $((SECONDS - t0)) s, $AMQP_URL"
}

rmq_stop_cluster() {
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  rmq_each rmq_stop
}

rmq_status_cluster() {
  local i rc=0 r
  for ((i = 0; i < RMQ_NODES; i++)); do
    rmq_select "$i"
    r=0
    rmq_status || r=$?
    ((r > rc)) && rc=$r
  done
  return "$rc"
}

rmq_clean_cluster() {
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  rmq_each rmq_clean_node
}

rmq_logs_cluster() {
  local i
  for ((i = 0; i < RMQ_NODES; i++)); do
    rmq_select "$i"
    rmq_show_logs
  done
}

# node_command ACTION INDEX: kill-node / start-node / stop-node on one node of the cluster.
node_command() {
  local action="$1" index="${2:-}"
  if ! wl_is_uint "$index" || ((index >= RMQ_NODES)); then
    wl_die "$action: '$index' is not a node index (0 to $((RMQ_NODES - 1)); WONDERLAND_RABBITMQ_NODES=$RMQ_NODES)"
  fi
  lock_instance 8 "rabbitmq-$AMQP_PORT"
  rmq_select "$index"
  case "$action" in
    kill-node) rmq_kill ;;
    stop-node) rmq_stop ;;
    start-node)
      rmq_start
      ((index == 0)) || rmq_join
      ;;
  esac
}

# memory_alarm on|off INDEX: a memory watermark far below what the node uses raises its memory
# alarm at once; RabbitMQ's default (0.4 of the machine's memory) lifts it.
memory_alarm() {
  local state="$1" index="$2"
  if ! wl_is_uint "$index" || ((index >= RMQ_NODES)); then
    wl_die "memory-alarm: '$index' is not a node index (0 to $((RMQ_NODES - 1)))"
  fi
  rmq_select "$index"
  local watermark=0.4
  [[ "$state" == on ]] && watermark=0.000001
  rmqctl 60 set_vm_memory_high_watermark "$watermark" >/dev/null ||
    wl_die "$RMQ_NAME: could not set the memory watermark to $watermark"
  wl_info "$RMQ_NAME: memory alarm $state (watermark $watermark)"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
PG_HASH="$(printf '%s' "$VAR_DIR" | md5sum | cut -c1-10)"
# Where the instance goes when the server's user cannot reach the var dir (see pg_prepare_dir);
# $PG_DIR is then a symbolic link to it.
PG_FALLBACK_DIR="${WONDERLAND_PG_FALLBACK_DIR:-/var/tmp/wonderland}/postgres-$PG_HASH-$PG_PORT"

# pg_resolve_paths: the paths the server uses, below the real instance dir $PG_HOME.
pg_resolve_paths() {
  PG_HOME="$PG_DIR"
  [[ -L "$PG_DIR" ]] && PG_HOME="$(readlink "$PG_DIR")"
  PG_DATA="$PG_HOME/data"
  PG_LOG="$PG_HOME/postgres.log"
  # A unix socket path is limited to 107 bytes: use a short directory when the path is long.
  PG_SOCK_DIR="$PG_HOME/run"
  if ((${#PG_SOCK_DIR} + 20 > 100)); then
    PG_SOCK_DIR="/tmp/wonderland-pg-$PG_HASH-$PG_PORT"
  fi
}
pg_resolve_paths
# The same database through the server's unix socket, for processes on this host (scripts/run.sh):
# no TCP/IP stack on either side. libpq takes the socket's directory from `host`. A directory
# whose name would need escaping in a URL keeps TCP.
PG_SOCKET_URL="$PG_URL"
if [[ "$PG_SOCK_DIR" =~ ^[A-Za-z0-9/._-]+$ ]]; then
  PG_SOCKET_URL="postgresql://$PG_APP_ROLE:$PG_APP_PASSWORD@/$PG_APP_DB?host=$PG_SOCK_DIR&port=$PG_PORT"
fi

# as_pg CMD...: runs CMD as the user the server runs as.
as_pg() {
  if ((IS_ROOT)); then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_describe() {
  printf 'port 127.0.0.1:%s, dir %s' "$PG_PORT" "$PG_DIR"
  [[ "$PG_HOME" == "$PG_DIR" ]] || printf ' -> %s' "$PG_HOME"
}

pg_show_logs() {
  wl_tail "$PG_LOG" 40
}

pg_ensure_os_user() {
  id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
  wl_info "postgres: creating system user $PG_OS_USER"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$PG_OS_USER"
}

# pg_fix_traversal: as root, makes sure the server's user can reach $VAR_DIR. Adds o+x to the
# directories of this repository or of the var dir that block it; fails (changing nothing) when
# a directory outside them blocks the way.
pg_fix_traversal() {
  local p="" comp
  local -a comps fix=()
  IFS=/ read -ra comps <<<"${VAR_DIR#/}"
  for comp in "${comps[@]}"; do
    [[ -z "$comp" ]] && continue
    p="$p/$comp"
    [[ -d "$p" ]] || break
    if ! as_pg test -x "$p" 2>/dev/null; then
      case "$p" in
        "$WL_REPO_DIR" | "$WL_REPO_DIR"/* | "$VAR_DIR" | "$VAR_DIR"/*) fix+=("$p") ;;
        *) return 1 ;;
      esac
      # Later components can only be checked once this one is open.
      chmod o+x "$p"
    fi
  done
  ((${#fix[@]} == 0)) || wl_info "postgres: made ${fix[*]} traversable for user $PG_OS_USER"
}

# pg_prepare_dir: creates the instance dir, owned by the server's user.
pg_prepare_dir() {
  mkdir -p "$VAR_DIR"
  if ((IS_ROOT)); then
    pg_ensure_os_user
    if [[ ! -L "$PG_DIR" ]] && ! pg_fix_traversal; then
      if [[ -d "$PG_DIR" ]]; then
        wl_die "postgres: user $PG_OS_USER cannot reach $PG_DIR; make its parent directories traversable (chmod o+x)"
      fi
      wl_info "postgres: user $PG_OS_USER cannot reach $VAR_DIR; keeping the data in $PG_FALLBACK_DIR (linked from $PG_DIR)"
      mkdir -p "$(dirname "$PG_FALLBACK_DIR")"
      chmod 755 "$(dirname "$PG_FALLBACK_DIR")"
      ln -sfn "$PG_FALLBACK_DIR" "$PG_DIR"
    fi
  fi
  pg_resolve_paths
  mkdir -p "$PG_HOME" "$PG_SOCK_DIR"
  chmod 755 "$PG_HOME" "$PG_SOCK_DIR"
  if ((IS_ROOT)); then
    chown "$PG_OS_USER:" "$PG_HOME" "$PG_SOCK_DIR"
    as_pg test -w "$PG_HOME" || wl_die "postgres: user $PG_OS_USER cannot write to $PG_HOME"
  fi
}

pg_initdb() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  if [[ -e "$PG_DATA" ]]; then
    wl_warn "postgres: $PG_DATA is not a database cluster; recreating it"
    rm -rf "$PG_DATA"
  fi
  wl_info "postgres: initialising a new cluster in $PG_DATA"
  rm -rf "$PG_DATA.init"
  if ! (cd "$PG_HOME" && as_pg "$PG_BIN/initdb" -D "$PG_DATA.init" -U "$PG_SUPERUSER" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-instructions \
    8>&- 9>&-) >"$PG_HOME/initdb.log" 2>&1; then
    wl_error "postgres: initdb failed"
    wl_tail "$PG_HOME/initdb.log" 40
    rm -rf "$PG_DATA.init"
    return 1
  fi
  mv "$PG_DATA.init" "$PG_DATA"
}

pg_ctl_status() {
  [[ -f "$PG_DATA/PG_VERSION" ]] || return 4
  (cd "$PG_HOME" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1)
}

# Creates the application's role and database (idempotent) and checks that the URL logs in.
pg_bootstrap() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_DIR" -p "$PG_PORT" -U "$PG_SUPERUSER" \
    -d postgres >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_ROLE') THEN
    CREATE ROLE $PG_APP_ROLE LOGIN CREATEDB PASSWORD '$PG_APP_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_APP_DB OWNER $PG_APP_ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_APP_DB') \gexec
SQL
  "$PG_BIN/psql" -X -q -At -d "$PG_URL" -c 'SELECT 1' >/dev/null
}

pg_start() {
  lock_instance 9 "postgres-$PG_PORT"
  [[ -x "$PG_BIN/pg_ctl" ]] || wl_die "postgres: $PG_BIN/pg_ctl not found (run scripts/deps.sh)"
  if instance_alive "$PG_ID" && pg_ctl_status; then
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t "$TIMEOUT_S"; then
      wl_info "postgres: already running ($(pg_describe))"
      return 0
    fi
    wl_error "postgres: an instance is running but not answering; try: scripts/infra.sh restart postgres"
    pg_show_logs
    return 1
  fi
  kill_leftovers "$PG_ID" postgres
  wl_require_free_port postgres "$PG_PORT" PostgreSQL || return 1
  pg_prepare_dir
  pg_initdb || return 1
  wl_info "postgres: starting ($(pg_describe))"
  local t0=$SECONDS
  local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$PG_SOCK_DIR'"
  opts+=" -c max_connections=200"
  if ! (cd "$PG_HOME" && close_inherited_fds && as_pg env WONDERLAND_INFRA_INSTANCE="$PG_ID" \
    "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT_S" -s -o "$opts" start \
    </dev/null >/dev/null 2>&1); then
    wl_error "postgres: the server did not start within ${TIMEOUT_S} s"
    pg_show_logs
    pg_stop_quietly
    return 1
  fi
  local left=$((TIMEOUT_S - (SECONDS - t0)))
  ((left < 5)) && left=5
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t "$left"; then
    wl_error "postgres: not accepting connections on 127.0.0.1:$PG_PORT"
    pg_show_logs
    pg_stop_quietly
    return 1
  fi
  if ! pg_bootstrap; then
    wl_error "postgres: could not create or log in as role $PG_APP_ROLE / database $PG_APP_DB"
    pg_show_logs
    pg_stop_quietly
    return 1
  fi
  wl_info "postgres: ready after $((SECONDS - t0)) s, $PG_URL"
}

pg_stop_quietly() {
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    (cd "$PG_HOME" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$TIMEOUT_S" -s stop \
      >/dev/null 2>&1 8>&- 9>&-) || true
  fi
  wait_gone "$PG_ID" 10 || true
  kill_leftovers "$PG_ID" postgres
}

pg_stop() {
  lock_instance 9 "postgres-$PG_PORT"
  if ! instance_alive "$PG_ID" && ! pg_ctl_status; then
    wl_info "postgres: not running ($(pg_describe))"
    return 0
  fi
  wl_info "postgres: stopping ($(pg_describe))"
  pg_stop_quietly
  wl_info "postgres: stopped"
}

pg_status() {
  local pid=""
  [[ -r "$PG_DATA/postmaster.pid" ]] && pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
  if ! instance_alive "$PG_ID"; then
    printf 'postgres: stopped (%s)\n' "$(pg_describe)"
    return 3
  fi
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 5; then
    printf 'postgres: running, pid %s (%s) %s\n' "${pid:-?}" "$(pg_describe)" "$PG_URL"
    return 0
  fi
  printf 'postgres: starting or unhealthy: processes alive, not accepting connections (%s)\n' "$(pg_describe)"
  return 3
}

pg_clean() {
  pg_stop
  local target=""
  [[ -L "$PG_DIR" ]] && target="$(readlink "$PG_DIR")"
  wl_info "postgres: deleting $PG_DIR${target:+ and $target}"
  rm -rf "$PG_DIR"
  [[ -n "$target" ]] && rm -rf "$target"
  [[ "$PG_SOCK_DIR" == /tmp/* ]] && rm -rf "$PG_SOCK_DIR"
  return 0
}

pg_logs() {
  pg_show_logs
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
print_env() {
  printf "export WONDERLAND_AMQP_URL='%s'\n" "$AMQP_URL"
  ((RMQ_NODES > 1)) && printf "export WONDERLAND_AMQP_QUEUE_TYPE=quorum\n"
  printf "export WONDERLAND_PG_URL='%s'\n" "$PG_URL"
  printf "export WONDERLAND_PG_SOCKET_URL='%s'\n" "$PG_SOCKET_URL"
}

# run_parts ACTION PARTS...: runs ACTION on each part; the status is the worst of them.
run_parts() {
  local action="$1" part rc=0 r
  shift
  for part in "$@"; do
    # A subshell outside any `||` context, so that `set -e` holds inside the action.
    set +e
    (
      set -e
      case "$part" in
        rabbitmq) "rmq_${action}_cluster" ;;
        postgres) "pg_$action" ;;
      esac
    )
    r=$?
    set -e
    ((r > rc)) && rc=$r
  done
  return "$rc"
}

main() {
  local cmd="${1:-}" which="${2:-all}"
  local -a parts
  case "$cmd" in
    kill-node | start-node | stop-node)
      (($# == 2)) || {
        usage
        exit 2
      }
      node_command "$cmd" "$2"
      return
      ;;
    memory-alarm)
      if (($# < 2 || $# > 3)) || [[ "$2" != on && "$2" != off ]]; then
        usage
        exit 2
      fi
      memory_alarm "$2" "${3:-0}"
      return
      ;;
  esac
  case "$which" in
    all) parts=(rabbitmq postgres) ;;
    rabbitmq | rmq) parts=(rabbitmq) ;;
    postgres | postgresql | pg) parts=(postgres) ;;
    *)
      usage
      wl_die "unknown part '$which' (rabbitmq, postgres or all)"
      ;;
  esac
  (($# <= 2)) || {
    usage
    exit 2
  }
  case "$cmd" in
    start)
      local rc=0
      run_parts start "${parts[@]}" || rc=$?
      if ((rc != 0)); then
        wl_error "start failed"
      fi
      return "$rc"
      ;;
    stop)
      # Reverse order: the database first, the broker last.
      local -a rev=()
      local i
      for ((i = ${#parts[@]} - 1; i >= 0; i--)); do rev+=("${parts[i]}"); done
      run_parts stop "${rev[@]}"
      ;;
    restart)
      run_parts stop "${parts[@]}"
      run_parts start "${parts[@]}"
      ;;
    status) run_parts status "${parts[@]}" ;;
    clean) run_parts clean "${parts[@]}" ;;
    logs) run_parts logs "${parts[@]}" ;;
    env) print_env ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
