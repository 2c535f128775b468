#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server for the tests:
#   CONSENTGATE_TEST_PG_URL if set; else the server on 127.0.0.1:5432 when it answers;
#   else a private throw-away trust-auth cluster started here (stop it with `stop DIR`).
set -euo pipefail

if [ "${1:-}" = "stop" ]; then
  dir="$2"
  bin=$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" | sort -V | tail -n1)")
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

if [ -n "${CONSENTGATE_TEST_PG_URL:-}" ]; then
  echo "$CONSENTGATE_TEST_PG_URL"
  exit 0
fi
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  if psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    echo "postgresql://postgres@127.0.0.1:5432/test"
    exit 0
  fi
fi

bin=$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n1)")
dir=$(mktemp -d /tmp/consentgate-pg.XXXXXX)
chown postgres "$dir" 2>/dev/null || true
port=$(( 55000 + RANDOM % 5000 ))
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$bin/initdb" -D "$dir/data" --auth=trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" -w start >/dev/null
as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
echo "postgresql://postgres@127.0.0.1:$port/test#private=$dir"
