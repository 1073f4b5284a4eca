#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: installed from Debian if missing,
# its data under var/pg-PORT, listening on 127.0.0.1:${CITYOPS_PG_PORT:-25432}, trust auth.
#   scripts/pg.sh start | stop | url | status
set -euo pipefail
cd "$(dirname "$0")/.."
# runuser and apt's helpers live in the sbin folders, which a minimal PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
# The default port lies below Linux's ephemeral range (32768-60999): a port in it may be held by
# the TIME_WAIT of any recent outgoing connection, and the server then cannot bind it.
PORT="${CITYOPS_PG_PORT:-25432}"
ROOT="$(pwd)/var/pg-$PORT"
DATA="$ROOT/data"
LOG="$ROOT/server.log"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "installing PostgreSQL from Debian packages..." >&2
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

# PostgreSQL refuses to run as root: run it as the 'postgres' user the package creates.
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  local bin; bin=$(pg_bin)
  mkdir -p "$ROOT/run"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$ROOT"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    run_pg "$bin/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if run_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    echo "PostgreSQL already running on port $PORT" >&2
  else
    # Tests trade durability for speed; CITYOPS_PG_DURABLE=1 (benchmarks) keeps the defaults.
    local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${CITYOPS_PG_DURABLE:-0}" = 1 ] && fast=""
    local options="-p $PORT -k $ROOT/run -c listen_addresses=127.0.0.1 -c max_connections=200 $fast"
    if ! run_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o "$options" >/dev/null; then
      explain_failure
      echo "trying once more in 5 s..." >&2
      sleep 5
      if ! run_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o "$options" >/dev/null; then
        explain_failure
        exit 1
      fi
    fi
    echo "PostgreSQL started on port $PORT" >&2
  fi
}

# What a failed start left to go on: the server's own log, and the usual suspects.
explain_failure() {
  echo "PostgreSQL did not start on port $PORT; the end of $LOG:" >&2
  tail -n 20 "$LOG" >&2 || true
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "something else already listens on 127.0.0.1:$PORT (set CITYOPS_PG_PORT to another port)" >&2
  fi
  df -h "$ROOT" /dev/shm >&2 || true
}

stop() {
  local dir; dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -f "$DATA/PG_VERSION" ]; then
    run_pg "$dir/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres" ;;
  status) run_pg "$(pg_bin)/pg_ctl" -D "$DATA" status ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
