#!/usr/bin/env bash
# A Citus cluster on this machine: a coordinator and two workers on loopback, run by the
# embedded PostgreSQL's binaries (Citus installed into them by `make citus`).
#
#   scripts/citus-cluster.sh start|stop|status|url
#
# Data under .tenantry/citus/{coordinator,worker1,worker2}; ports CITUS_PORT (55432) and the
# two after it, chosen when the cluster is created; trust authentication, listening on 127.0.0.1 only. As root, the servers run as
# the `embedded_postgres` user, as Tenantry's own embedded server does.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$ROOT/.tenantry/citus"
cd "$ROOT"  # as root the servers run as another user, who must be able to enter the cwd
PG_CONFIG="${PG_CONFIG:-$(ls "$ROOT"/.venv/lib/python3*/site-packages/embedded_postgres/pginstall/bin/pg_config 2>/dev/null | head -1)}"
[ -x "$PG_CONFIG" ] || { echo "citus-cluster: no embedded PostgreSQL (run make install, or set PG_CONFIG)" >&2; exit 1; }
BIN="$("$PG_CONFIG" --bindir)"
PORT="${CITUS_PORT:-55432}"  # of a new cluster; an existing one keeps the ports it was made with
if [ -f "$DATA/coordinator/postgresql.conf" ]; then
  PORT="$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$DATA/coordinator/postgresql.conf" | tail -1)"
fi
NODES=(coordinator worker1 worker2)
HOST=127.0.0.1
DB=tenantry

as_pg() {  # run a PostgreSQL binary as the server's OS user
  if [ "$(id -u)" = 0 ]; then runuser -u embedded_postgres -- "$@"; else "$@"; fi
}
port_of() { echo $((PORT + $1)); }
psql_on() { PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$HOST" -p "$1" -U postgres -d "$2" -c "$3"; }
running() { as_pg "$BIN/pg_ctl" -D "$DATA/$1" status >/dev/null 2>&1; }
url() { echo "postgresql://postgres@$HOST:$(port_of 0)/$DB"; }

init_node() {  # $1 name, $2 port
  local dir="$DATA/$1"
  [ -f "$dir/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id embedded_postgres >/dev/null 2>&1 || useradd --system --no-create-home embedded_postgres
    chown embedded_postgres: "$DATA" "$dir"
  fi
  chmod 700 "$dir"
  as_pg "$BIN/initdb" -D "$dir" --auth=trust --auth-local=trust --encoding=utf8 -U postgres >/dev/null
  cat >>"$dir/postgresql.conf" <<CONF

# scripts/citus-cluster.sh
port = $2
listen_addresses = '$HOST'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
CONF
}

start() {
  [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] || { echo "citus-cluster: Citus is not installed in the embedded PostgreSQL: run make citus" >&2; exit 1; }
  mkdir -p "$DATA"
  local fresh=0 i
  for i in 0 1 2; do
    local name="${NODES[$i]}" port; port="$(port_of "$i")"
    [ -f "$DATA/$name/PG_VERSION" ] || fresh=1
    init_node "$name" "$port"
    running "$name" || as_pg "$BIN/pg_ctl" -D "$DATA/$name" -l "$DATA/$name/log" -w start >/dev/null
    if [ -z "$(psql_on "$port" postgres "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
      psql_on "$port" postgres "CREATE DATABASE $DB"
      fresh=1
    fi
    psql_on "$port" "$DB" "CREATE EXTENSION IF NOT EXISTS citus"
  done
  if [ "$fresh" = 1 ] || [ "$(psql_on "$(port_of 0)" "$DB" "SELECT count(*) FROM pg_dist_node")" != 3 ]; then
    psql_on "$(port_of 0)" "$DB" "SELECT citus_set_coordinator_host('$HOST', $(port_of 0))" >/dev/null
    for i in 1 2; do
      psql_on "$(port_of 0)" "$DB" "SELECT citus_add_node('$HOST', $(port_of "$i"))" >/dev/null
    done
  fi
  url >"$DATA/coordinator.url"
  echo "Citus $(psql_on "$(port_of 0)" "$DB" "SELECT citus_version()" | awk '{print $2}') coordinator with 2 workers: $(url)"
}

stop() {
  local name
  for name in "${NODES[@]}"; do
    if [ -f "$DATA/$name/PG_VERSION" ] && running "$name"; then
      as_pg "$BIN/pg_ctl" -D "$DATA/$name" -w -m fast stop >/dev/null && echo "stopped $name"
    fi
  done
  rm -f "$DATA/coordinator.url"
}

status() {
  local i
  for i in 0 1 2; do
    local state
    if [ -f "$DATA/${NODES[$i]}/PG_VERSION" ] && running "${NODES[$i]}"; then state=running; else state=stopped; fi
    echo "${NODES[$i]} $HOST:$(port_of "$i") $state"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
