#!/usr/bin/env bash
# A throwaway PostgreSQL on a private unix socket (no TCP port, no systemd): `eval "$(pg_test.sh start)"`, then stop.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
start)
  dir=$(mktemp -d /tmp/pgtest.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log"
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
    -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  as_pg "$PGBIN/createdb" -h "$dir" -U postgres app_test
  echo "export PGTEST_DIR=$dir"
  echo "export TEST_DATABASE_URL='postgresql+psycopg://postgres@/app_test?host=$dir'"
  ;;
stop)
  dir=${PGTEST_DIR:?PGTEST_DIR is not set}
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
