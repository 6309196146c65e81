#!/bin/bash
# Writes the balancer's configuration (haproxy-config.sh) and runs HAProxy in the foreground.
# Environment:
#   WONDERLAND_MEDIATORS      comma-separated host:port of the mediators (default
#                             mediator-1:8080,mediator-2:8080); found again through DNS when a
#                             container comes back with a new address
#   WONDERLAND_BALANCER_PORT  the port it listens on (default 8080)
set -euo pipefail

IFS=',' read -ra mediators <<<"${WONDERLAND_MEDIATORS:-mediator-1:8080,mediator-2:8080}"
cfg=/var/lib/wonderland-balancer/haproxy.cfg
wonderland-balancer-config --resolve ":${WONDERLAND_BALANCER_PORT:-8080}" "${mediators[@]}" >"$cfg"
haproxy -q -c -f "$cfg"
exec haproxy -db -W -f "$cfg"
