#!/usr/bin/env bash
# Starts the mtaq cluster on this machine: three RabbitMQ nodes joined into one cluster, Redis, the
# rule database, two ingress nodes behind HAProxy and two delivery nodes owning different source
# IPs. Returns once HAProxy's front accepts mail. Settings: deploy/cluster/env.sh (all CLUSTER_*).
#
#   bash deploy/cluster/up.sh                 everything (after down.sh without --purge: the same data)
#   bash deploy/cluster/up.sh rabbit-2 ...    only the named pieces (a drill restoring what it killed)
#
# Every process writes its PID to $CLUSTER_RUN_DIR/<name>.pid, its output to <name>.log.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

[ -f apps/cli/dist/main.js ] || { echo "apps/cli/dist/main.js missing: run npm run build first" >&2; exit 1; }
[ -x "$RABBIT_BIN/rabbitmq-server" ] || { echo "rabbitmq-server missing (apt-get install rabbitmq-server)" >&2; exit 1; }
[ -n "$HAPROXY_BIN" ] || { echo "haproxy missing (apt-get install haproxy)" >&2; exit 1; }

wait_for() { # seconds, description, command...
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "up.sh: $what not ready within ${seconds}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# ---- shared files: run directory, the Erlang cookie every node and rabbitmqctl share -------------
mkdir -p "$RUN/home"
if [ ! -f "$RUN/home/.erlang.cookie" ]; then
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$RUN/home/.erlang.cookie"
  chmod 400 "$RUN/home/.erlang.cookie"
fi

amqp_urls() {
  local n urls=()
  for n in 1 2 3; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/"); done
  (IFS=,; echo "${urls[*]}")
}

database_address() {
  case "$CLUSTER_DATABASE" in
    sqlite) echo "sqlite://$RUN/rules.sqlite" ;;
    *) echo "$CLUSTER_DATABASE" ;;
  esac
}

# createdb when the PostgreSQL database is missing (trust auth on 127.0.0.1, as Debian's test setup)
ensure_database() {
  case "$CLUSTER_DATABASE" in
    postgresql://* | postgres://*) ;;
    *) return 0 ;;
  esac
  local db="${CLUSTER_DATABASE##*/}" admin="${CLUSTER_DATABASE%/*}/postgres"
  if [ "$(psql "$admin" -Atc "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    psql "$admin" -qc "create database \"$db\"" >/dev/null
    log "database $db created"
  fi
}

# Port-, path- and environment-dependent settings of one node, over mtaq.conf and nodes/<name>.conf
write_node_config() {
  local name="$1" file="$RUN/$1.conf"
  {
    echo "# written by up.sh: $name"
    echo "rabbitmq-address: $(amqp_urls)"
    echo "redis-address: redis://127.0.0.1:$CLUSTER_REDIS_PORT"
    echo "database-address: $(database_address)"
    echo "www-port: $(www_port "$name")"
    echo "lock: $RUN/$name.pid"
    case "$name" in
      ingress-*)
        echo "smtp-port: $CLUSTER_INGRESS_PORT"
        echo "received-log-file: $RUN/$name.received.log"
        ;;
      delivery-*)
        echo "send-log-file: $RUN/$name.send.log"
        if [ -n "$CLUSTER_SMARTHOST" ]; then
          echo "delivery-method: smtp"
          echo "smarthost: ${CLUSTER_SMARTHOST%:*}"
          echo "smarthost-port: ${CLUSTER_SMARTHOST##*:}"
        else
          echo "delivery-method: folder"
          echo "delivery-folder: $RUN/delivered"
        fi
        ;;
    esac
  } >"$file"
}

# ---- RabbitMQ ------------------------------------------------------------------------------------
# rabbitmq-server started directly from /usr/lib/rabbitmq/bin (the /usr/sbin wrapper does `su
# rabbitmq` as root, dropping our environment), with a config and env file of its own so nothing
# is read from /etc/rabbitmq (which binds the shared broker's 5672). See test/drills/rabbit-node.ts.
start_rabbit() {
  local n="$1" dir="$RUN/rabbit-$1"
  mkdir -p "$dir/mnesia" "$dir/log"
  echo '[].' >"$dir/enabled_plugins"
  : >"$dir/rabbitmq-env.conf"
  cat >"$dir/rabbitmq.conf" <<EOF
loopback_users = none
disk_free_limit.absolute = 50MB
log.console = false
cluster_partition_handling = pause_minority
EOF
  rm -f "$RUN/rabbit-$n.pid"
  env -i PATH="/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME="$RUN/home" \
    RABBITMQ_NODENAME="$(rabbit_node "$n")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$(amqp_port "$n")" RABBITMQ_DIST_PORT=$((CLUSTER_DIST_PORT + n - 1)) \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_PID_FILE="$RUN/rabbit-$n.pid" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
    setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >"$RUN/rabbit-$n.log" 2>&1 &
  # the start script's process group, for down.sh's leftovers (beam.smp writes rabbit-N.pid itself)
  echo $! >"$dir/group.pid"
}

await_rabbit() {
  local n="$1" deadline=$((SECONDS + 90))
  # fails at once while the node is not registered with epmd yet, then blocks until it is up
  until ctl "$n" await_startup --timeout 60 >/dev/null 2>&1; do
    if ((SECONDS > deadline)) || ! kill -0 "$(cat "$RUN/rabbit-$n/group.pid")" 2>/dev/null; then
      echo "up.sh: rabbit-$n did not start; tail of $RUN/rabbit-$n.log:" >&2
      tail -20 "$RUN/rabbit-$n.log" >&2
      return 1
    fi
    sleep 0.3
  done
}

join_rabbit() {
  local n="$1"
  [ -f "$RUN/rabbit-$n/joined" ] && return 0
  # rabbitmqctl's own chatter (tracked connection tables of a node in between) goes to the log
  {
    ctl "$n" stop_app && ctl "$n" join_cluster "$(rabbit_node 1)" && ctl "$n" start_app
  } >>"$RUN/rabbit-$n/ctl.log" 2>&1 || { echo "up.sh: rabbit-$n could not join; see $RUN/rabbit-$n/ctl.log" >&2; return 1; }
  touch "$RUN/rabbit-$n/joined"
  log "rabbit-$n joined $(rabbit_node 1)"
}

# ---- Redis ---------------------------------------------------------------------------------------
start_redis() {
  # leases and rate counters only: nothing to persist
  redis-server --port "$CLUSTER_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    </dev/null >"$RUN/redis.log" 2>&1 &
  echo $! >"$RUN/redis.pid"
  wait_for 10 redis redis-cli -p "$CLUSTER_REDIS_PORT" ping
}

# ---- mtaq nodes ----------------------------------------------------------------------------------
start_mtaq() {
  local name="$1" role="${1%-*}"
  write_node_config "$name"
  node apps/cli/dist/main.js "$role" --config-file "$CLUSTER_DIR/mtaq.conf" \
    --config-file "$CLUSTER_DIR/nodes/$name.conf" --config-file "$RUN/$name.conf" \
    </dev/null >>"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

await_mtaq() {
  local name="$1"
  # /ready: ingress has its broker publisher, delivery consumes the outbox
  local url="http://$(www_ip "$name"):$(www_port "$name")/ready" deadline=$((SECONDS + 60))
  until curl -fsS "$url" >/dev/null 2>&1; do
    if ! alive "$name" || ((SECONDS > deadline)); then
      echo "up.sh: $name not ready ($(alive "$name" && echo "no /ready within 60s" || echo exited)); tail of $RUN/$name.log:" >&2
      tail -5 "$RUN/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

# ---- HAProxy -------------------------------------------------------------------------------------
write_haproxy_config() {
  sed -e "s/@SMTP_PORT@/$CLUSTER_SMTP_PORT/g" -e "s/@INGRESS_PORT@/$CLUSTER_INGRESS_PORT/g" \
    -e "s/@WWW_1@/$(www_port ingress-1)/g" -e "s/@WWW_2@/$(www_port ingress-2)/g" \
    -e "s/@STATS_PORT@/$CLUSTER_HAPROXY_STATS_PORT/g" -e "s|@RUN@|$RUN|g" \
    "$CLUSTER_DIR/haproxy.cfg" >"$RUN/haproxy.cfg"
}

start_haproxy() {
  write_haproxy_config
  "$HAPROXY_BIN" -c -q -f "$RUN/haproxy.cfg"
  "$HAPROXY_BIN" -f "$RUN/haproxy.cfg" -db </dev/null >"$RUN/haproxy.log" 2>&1 &
  echo $! >"$RUN/haproxy.pid"
}

# both ingress servers UP in HAProxy's eyes (its health check passed `rise` times)
servers_up() {
  local state
  state="$(echo 'show servers state smtp_ingress' | socat - "UNIX-CONNECT:$RUN/haproxy.sock")"
  # field 6 is srv_op_state: 2 = running
  [ "$(awk '$2 == "smtp_ingress" && $6 == 2' <<<"$state" | wc -l)" -eq 2 ]
}

# ---- what to start --------------------------------------------------------------------------------
start_pieces() {
  local rabbits=() name n
  for name in "$@"; do [[ "$name" == rabbit-* ]] && rabbits+=("${name#rabbit-}"); done
  if ((${#rabbits[@]})); then
    for n in "${rabbits[@]}"; do alive "rabbit-$n" || start_rabbit "$n"; done
    for n in "${rabbits[@]}"; do await_rabbit "$n"; done
    for n in "${rabbits[@]}"; do [ "$n" = 1 ] || join_rabbit "$n"; done
    log "rabbit ${rabbits[*]} up"
  fi
  for name in "$@"; do
    if [ "$name" = redis ] && ! alive redis; then start_redis && log "redis up on $CLUSTER_REDIS_PORT"; fi
  done
  local started=()
  for name in "$@"; do
    case "$name" in
      ingress-* | delivery-*) alive "$name" || { start_mtaq "$name"; started+=("$name"); } ;;
    esac
  done
  for name in "${started[@]}"; do await_mtaq "$name"; done
  ((${#started[@]} == 0)) || log "${started[*]} ready"
  for name in "$@"; do
    if [ "$name" = haproxy ] && ! alive haproxy; then start_haproxy; fi
  done
}

began=$SECONDS
if [ $# -eq 0 ]; then
  ensure_database
  start_pieces rabbit-1 rabbit-2 rabbit-3 redis delivery-1 delivery-2 ingress-1 ingress-2 haproxy
else
  start_pieces "$@"
fi
if alive haproxy; then
  wait_for 30 "HAProxy health checks" servers_up
  wait_for 30 "SMTP through HAProxy on 127.0.0.1:$CLUSTER_SMTP_PORT" node "$CLUSTER_DIR/smtp-ping.mjs" 127.0.0.1 "$CLUSTER_SMTP_PORT"
fi
log "up in $((SECONDS - began))s: SMTP 127.0.0.1:$CLUSTER_SMTP_PORT, run directory $RUN"
