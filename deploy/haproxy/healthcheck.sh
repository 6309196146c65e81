#!/bin/bash
# Healthy when the balancer answers and routes GET /readyz to a mediator that is ready.
port="${WONDERLAND_BALANCER_PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
[[ "$status" == *" 200 "* ]]
