#!/bin/bash
# Starts PostgreSQL; on the first start (empty $PGDATA) creates the cluster, the role
# $POSTGRES_USER with $POSTGRES_PASSWORD and the database $POSTGRES_DB (default: the user's name).
# Clients on the network log in with a password (scram-sha-256); nothing is trusted.
set -euo pipefail

die() { printf 'wonderland-postgres: %s\n' "$*" >&2; exit 1; }
: "${PGDATA:?}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  [[ -n "${POSTGRES_PASSWORD:-}" ]] || die "POSTGRES_PASSWORD must be set to create the database"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [[ "$db" != postgres ]]; then
    # A server on a private socket only, to create the database before anyone can connect.
    sock="$(mktemp -d)"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories='$sock'" -w start >/dev/null
    PGPASSWORD="$POSTGRES_PASSWORD" createdb -h "$sock" -U "$user" "$db"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    rmdir "$sock" 2>/dev/null || true
  fi
  printf 'wonderland-postgres: created the database %s owned by %s\n' "$db" "$user" >&2
fi
unset POSTGRES_PASSWORD

exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp \
  -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" "$@"
