#!/bin/bash
# Prints the HAProxy configuration of the balancer in front of the mediators: round robin, a
# health check on GET /readyz every second, server-sent events and long polls passed through
# (1-h tunnel timeouts, no buffering), X-Forwarded-For set to the client's address (whatever the
# client sent there is replaced), and a request that cannot reach a mediator sent to another.
# Used by scripts/run.sh (WONDERLAND_MEDIATORS > 1) and by the balancer image (compose.yaml).
#
#   haproxy-config.sh [--resolve] BIND SERVER...
#     BIND    address:port to listen on (":8080": every address)
#     SERVER  host:port of a mediator
#     --resolve  find the servers again through DNS while running (containers that come back
#                with a new address); the resolvers are those of /etc/resolv.conf
set -euo pipefail

resolve=0
if [[ "${1:-}" == --resolve ]]; then
  resolve=1
  shift
fi
(($# >= 2)) || { printf 'usage: haproxy-config.sh [--resolve] BIND SERVER...\n' >&2; exit 2; }
bind="$1"
shift

cat <<CFG
global
  log stdout format iso local0 notice
  maxconn 4096
CFG
if ((resolve)); then
  cat <<CFG

resolvers dns
  parse-resolv-conf
  hold valid 2s
  hold obsolete 5s
CFG
fi
cat <<CFG

defaults
  mode http
  log global
  option dontlognull
  # One request per server connection: a mediator that goes away costs no reused connection.
  option http-server-close
  timeout connect 2s
  timeout http-request 15s
  timeout http-keep-alive 15s
  timeout queue 10s
  timeout check 2s
  # Server-sent events (/api/logs/stream, /api/events...) and long polls stay open for long.
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout client-fin 5s
  timeout server-fin 5s
  # A request that cannot reach a mediator goes to another one.
  retries 3
  option redispatch 1

frontend public
  bind $bind
  # The client's address, for the mediators' throttles (WONDERLAND_HTTP_TRUSTED_PROXIES);
  # whatever the client sent in this header is replaced.
  http-request set-header X-Forwarded-For %[src]
  default_backend mediators

backend mediators
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
CFG
default_server='  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2'
((resolve)) && default_server+=' resolvers dns init-addr last,libc,none'
printf '%s\n' "$default_server"
i=0
for server in "$@"; do
  i=$((i + 1))
  printf '  server mediator-%d %s check\n' "$i" "$server"
done
