# Sourced by up.sh, down.sh and drill.sh: the cluster's settings, every one overridable from the
# environment so a second cluster (the npm test smoke) can run beside a dev one.
# shellcheck shell=bash

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CLUSTER_DIR/../.." && pwd)"

CLUSTER_SMTP_PORT="${CLUSTER_SMTP_PORT:-2600}"                      # HAProxy's front, on 127.0.0.1
CLUSTER_INGRESS_PORT="${CLUSTER_INGRESS_PORT:-$((CLUSTER_SMTP_PORT + 1))}" # each ingress, on its own 127.0.0.1x
CLUSTER_WWW_PORT="${CLUSTER_WWW_PORT:-$((CLUSTER_SMTP_PORT + 10))}"   # www of ingress-1, -2, delivery-1, -2: +0..+3
CLUSTER_HAPROXY_STATS_PORT="${CLUSTER_HAPROXY_STATS_PORT:-$((CLUSTER_SMTP_PORT + 20))}"
# RabbitMQ ports stay below the ephemeral range (32768-60999) and away from rabbitmqctl's own
# 35672-35682, so no client connection or CLI run takes one while a node restarts
CLUSTER_AMQP_PORT="${CLUSTER_AMQP_PORT:-5701}"                       # rabbit-1..3: +0..+2
CLUSTER_DIST_PORT="${CLUSTER_DIST_PORT:-25701}"                      # Erlang distribution: +0..+2
CLUSTER_REDIS_PORT="${CLUSTER_REDIS_PORT:-6401}"
CLUSTER_NAME="${CLUSTER_NAME:-c$CLUSTER_SMTP_PORT}"                  # in the RabbitMQ node names
CLUSTER_RUN_DIR="${CLUSTER_RUN_DIR:-$CLUSTER_DIR/run}"
# postgresql://… (created if missing) or sqlite (a file under the run directory)
CLUSTER_DATABASE="${CLUSTER_DATABASE:-postgresql://postgres@127.0.0.1:5432/mtaq_$CLUSTER_NAME}"
CLUSTER_SMARTHOST="${CLUSTER_SMARTHOST:-}"                           # host:port; empty = folder sink

RUN="$CLUSTER_RUN_DIR"
RABBIT_BIN=/usr/lib/rabbitmq/bin
HAPROXY_BIN="$(PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v haproxy || true)"
MTAQ_NODES=(ingress-1 ingress-2 delivery-1 delivery-2)
ALL_NAMES=(delivery-1 delivery-2 ingress-1 ingress-2 haproxy redis rabbit-1 rabbit-2 rabbit-3)

rabbit_node() { echo "mtaq-$CLUSTER_NAME-$1@localhost"; }
amqp_port() { echo $((CLUSTER_AMQP_PORT + $1 - 1)); }
www_port() {
  case "$1" in
    ingress-1) echo "$CLUSTER_WWW_PORT" ;; ingress-2) echo $((CLUSTER_WWW_PORT + 1)) ;;
    delivery-1) echo $((CLUSTER_WWW_PORT + 2)) ;; delivery-2) echo $((CLUSTER_WWW_PORT + 3)) ;;
  esac
}
www_ip() { case "$1" in ingress-1) echo 127.0.0.11 ;; ingress-2) echo 127.0.0.12 ;; *) echo 127.0.0.1 ;; esac; }

# rabbitmqctl with a clean environment (HOME for the shared cookie only): given the node's
# RABBITMQ_* variables it would derive its own ports from ours
ctl() {
  local n="$1"
  shift
  env -i PATH="/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME="$RUN/home" "$RABBIT_BIN/rabbitmqctl" -n "$(rabbit_node "$n")" "$@"
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
alive() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*"; }
