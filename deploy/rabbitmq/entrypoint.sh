#!/bin/bash
# Starts one RabbitMQ node of the compose deployment. Environment:
#   RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS  the user the services log in as (created on
#                                  the first start of a node with empty data; required)
#   RABBITMQ_ERLANG_COOKIE         the secret the nodes of a cluster share (required)
#   WONDERLAND_RABBITMQ_CLUSTER    comma-separated host names of every node of the cluster (empty:
#                                  one node); a node with empty data joins the others
#   WONDERLAND_RABBITMQ_SEED       the node the others wait for on their very first start (each
#                                  also waits for the nodes named before it in the cluster list)
set -euo pipefail

die() { printf 'wonderland-rabbitmq: %s\n' "$*" >&2; exit 1; }
[[ -n "${RABBITMQ_DEFAULT_USER:-}" && -n "${RABBITMQ_DEFAULT_PASS:-}" ]] ||
  die "RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS must be set"
[[ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]] || die "RABBITMQ_ERLANG_COOKIE must be set"

host="$(hostname -s)"
export RABBITMQ_NODENAME="rabbit@$host"
cd "$HOME"
seed="${WONDERLAND_RABBITMQ_SEED:-}"
fresh=0
[[ -d "$RABBITMQ_MNESIA_BASE/$RABBITMQ_NODENAME" ]] || fresh=1

# The cookie is written at every start from the environment: it is never part of the image.
rm -f .erlang.cookie
(umask 077 && printf '%s' "$RABBITMQ_ERLANG_COOKIE" >.erlang.cookie)
chmod 400 .erlang.cookie
unset RABBITMQ_ERLANG_COOKIE

{
  printf '# Written by wonderland-rabbitmq at every start.\n'
  printf 'listeners.tcp.default = 5672\n'
  printf 'loopback_users.guest = true\n'
  printf 'default_user = %s\n' "$RABBITMQ_DEFAULT_USER"
  printf 'default_pass = %s\n' "$RABBITMQ_DEFAULT_PASS"
  printf 'disk_free_limit.absolute = 50MB\n'
  printf 'vm_memory_high_watermark.relative = 0.4\n'
  printf 'log.console = true\nlog.console.level = info\nlog.file = false\n'
  # The seed's very first start forms the cluster alone; every other node with empty data joins
  # it (classic-config discovery). A node with data rejoins the cluster it belongs to.
  if [[ -n "${WONDERLAND_RABBITMQ_CLUSTER:-}" ]] && { ((fresh == 0)) || [[ "$seed" != "$host" ]]; }; then
    printf 'cluster_formation.peer_discovery_backend = classic_config\n'
    i=0
    IFS=',' read -ra nodes <<<"$WONDERLAND_RABBITMQ_CLUSTER"
    for n in "${nodes[@]}"; do
      i=$((i + 1))
      printf 'cluster_formation.classic_config.nodes.%d = rabbit@%s\n' "$i" "$n"
    done
    # A node whose peers are not up yet keeps trying instead of forming a cluster of its own.
    printf 'cluster_formation.discovery_retry_limit = 60\n'
    printf 'cluster_formation.discovery_retry_interval = 2000\n'
  fi
} >rabbitmq.conf
printf '[].\n' >enabled_plugins
unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS

# On its very first start (no data yet) a node other than the seed waits until the seed, and
# every node named before it in WONDERLAND_RABBITMQ_CLUSTER, accept connections (a node opens its
# AMQP port only once it has booted, so once it has joined): the cluster forms around one node and
# the nodes join it one at a time. Two nodes joining at once can leave one of them stuck in its
# boot, its peers' `global` name servers each waiting for the other. A node that has data never
# waits: after a restart of the whole cluster the nodes must find each other, whichever comes up
# first.
if [[ -n "$seed" && "$seed" != "$host" ]] && ((fresh)); then
  before=("$seed")
  IFS=',' read -ra nodes <<<"${WONDERLAND_RABBITMQ_CLUSTER:-}"
  for n in "${nodes[@]}"; do
    [[ "$n" == "$host" ]] && break
    [[ "$n" != "$seed" ]] && before+=("$n")
  done
  trap "exit 143" TERM INT
  for peer in "${before[@]}"; do
    printf 'wonderland-rabbitmq: first start of %s: waiting for %s\n' "$host" "$peer" >&2
    for _ in $(seq 1 180); do
      (exec 3<>"/dev/tcp/$peer/5672") 2>/dev/null && break
      sleep 1
    done
  done
fi

exec /usr/lib/rabbitmq/bin/rabbitmq-server
