#!/usr/bin/env bash
# A private Mosquitto broker for tests, benchmarks and the demo: installed from Debian if missing,
# its configuration and data under var/mqtt-PORT, listening on 127.0.0.1:${CITYOPS_MQTT_PORT:-21883}
# (MQTT 3.1.1 and 5), no anonymous access, clients and ACLs in the dynamic-security plugin.
# cityops administers the broker as CITYOPS_MQTT_ADMIN_USERNAME (default cityops-admin); its
# password is CITYOPS_MQTT_ADMIN_PASSWORD or generated once into var/mqtt-PORT/admin.password.
#   scripts/mqtt.sh start | stop | status | url | admin | env
#     url    the broker URL              mqtt://127.0.0.1:PORT
#     admin  the admin credentials       USERNAME PASSWORD
#     env    both as settings            CITYOPS_MQTT_URL=... (for eval or an env file)
set -euo pipefail
cd "$(dirname "$0")/.."
# The default port lies below Linux's ephemeral range (32768-60999): a port in it may be held by
# the TIME_WAIT of any recent outgoing connection, and the server then cannot bind it.
PORT="${CITYOPS_MQTT_PORT:-21883}"
ROOT="$(pwd)/var/mqtt-$PORT"
CONF="$ROOT/mosquitto.conf"
DYNSEC="$ROOT/dynamic-security.json"
PIDFILE="$ROOT/run/mosquitto.pid"
LOG="$ROOT/run/mosquitto.log"
ADMIN_USER="${CITYOPS_MQTT_ADMIN_USERNAME:-cityops-admin}"
ADMIN_FILE="$ROOT/admin.password"
# Per-subscriber backlog the broker holds (queued beyond the in-flight window, or while an ingest
# worker restarts). Mosquitto drops QoS 1 messages past it, after the publisher got its PUBACK.
MAX_QUEUED="${CITYOPS_MQTT_MAX_QUEUED:-1000000}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

plugin_path() {
  ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
    2>/dev/null | head -n 1 || true
}

install() {
  if ! command -v mosquitto >/dev/null 2>&1 && [ -x /usr/sbin/mosquitto ]; then
    PATH="$PATH:/usr/sbin"
  fi
  if ! command -v mosquitto >/dev/null 2>&1 || ! command -v mosquitto_pub >/dev/null 2>&1 \
    || [ -z "$(plugin_path)" ]; then
    echo "installing Mosquitto from Debian packages..." >&2
    as_root apt-get update -qq >&2
    # The package's own service stays down: policy-rc.d or no systemd in containers; ours is private.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >&2
    PATH="$PATH:/usr/sbin"
  fi
  if [ -z "$(plugin_path)" ]; then
    echo "mosquitto_dynamic_security.so not found (Mosquitto 2.0+ is required)" >&2
    exit 1
  fi
}

admin_password() {
  if [ -n "${CITYOPS_MQTT_ADMIN_PASSWORD:-}" ]; then
    echo "$CITYOPS_MQTT_ADMIN_PASSWORD"
  elif [ -f "$ADMIN_FILE" ]; then
    cat "$ADMIN_FILE"
  else
    echo "no broker on port $PORT yet: run scripts/mqtt.sh start" >&2
    exit 1
  fi
}

write_config() {
  cat >"$CONF" <<EOF
# Written by scripts/mqtt.sh on each start; edit the script, not this file.
per_listener_settings false
allow_anonymous false
listener $PORT 127.0.0.1
plugin $(plugin_path)
plugin_opt_config_file $DYNSEC
persistence true
persistence_location $ROOT/data/
autosave_interval 30
max_queued_messages $MAX_QUEUED
max_inflight_messages 100
set_tcp_nodelay true
pid_file $PIDFILE
log_dest file $LOG
log_type error
log_type warning
log_type notice
connection_messages false
EOF
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  install
  if running; then
    echo "Mosquitto already running on port $PORT" >&2
    return
  fi
  if listening; then
    # Not ours (another checkout's broker, say): its accounts and ACLs are not this one's.
    echo "something else already listens on 127.0.0.1:$PORT; stop it or set CITYOPS_MQTT_PORT" >&2
    exit 1
  fi
  mkdir -p "$ROOT/data" "$ROOT/run"
  if [ ! -f "$DYNSEC" ]; then
    local password="${CITYOPS_MQTT_ADMIN_PASSWORD:-}"
    if [ -z "$password" ]; then
      password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
      (umask 077 && echo "$password" >"$ADMIN_FILE")
    fi
    mosquitto_ctrl dynsec init "$DYNSEC" "$ADMIN_USER" "$password" >/dev/null
  fi
  write_config
  # Started as root, Mosquitto drops to the 'mosquitto' user the package creates.
  [ "$(id -u)" = 0 ] && chown -R mosquitto: "$ROOT/data" "$ROOT/run" "$DYNSEC" && chmod 700 "$ROOT/data"
  rm -f "$PIDFILE"
  "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$CONF" -d
  for _ in $(seq 100); do
    if listening; then
      echo "Mosquitto started on port $PORT" >&2
      return
    fi
    sleep 0.1
  done
  echo "Mosquitto did not start; see $LOG" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if running; then echo "Mosquitto running on port $PORT (pid $(cat "$PIDFILE"))"
    else echo "Mosquitto not running on port $PORT"; exit 3; fi ;;
  url) echo "mqtt://127.0.0.1:$PORT" ;;
  admin) echo "$ADMIN_USER $(admin_password)" ;;
  env)
    echo "CITYOPS_MQTT_URL=mqtt://127.0.0.1:$PORT"
    echo "CITYOPS_MQTT_ADMIN_USERNAME=$ADMIN_USER"
    echo "CITYOPS_MQTT_ADMIN_PASSWORD=$(admin_password)" ;;
  *) echo "usage: $0 start|stop|status|url|admin|env" >&2; exit 2 ;;
esac
