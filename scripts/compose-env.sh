#!/usr/bin/env bash
# Writes .env next to compose.yaml with fresh random secrets for the container deployment:
# the RabbitMQ password and Erlang cookie, the PostgreSQL password, the operator token, the
# orders' fingerprint key and the payment key. An existing .env is kept as it is (its secrets
# guard data already written: a new payment key makes the stored card tokens unusable).
#
#   scripts/compose-env.sh [FILE]      (default: .env at the repository root)
set -euo pipefail

file="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)/.env}"
if [[ -e "$file" ]]; then
  printf 'compose-env: %s exists; kept as it is\n' "$file" >&2
  exit 0
fi
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
(
  umask 077
  cat >"$file" <<ENV
# Secrets of the container deployment (compose.yaml), written by scripts/compose-env.sh.
# Keep this file private; it is not part of the images.
WONDERLAND_RABBITMQ_PASSWORD=$(hex 16)
WONDERLAND_RABBITMQ_COOKIE=$(hex 24)
WONDERLAND_PG_PASSWORD=$(hex 16)
WONDERLAND_ADMIN_TOKEN=$(hex 24)
WONDERLAND_FINGERPRINT_KEY=$(hex 32)
WONDERLAND_PAYMENT_KEY=$(hex 32)
ENV
)
printf 'compose-env: wrote %s\n' "$file" >&2
