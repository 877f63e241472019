#!/usr/bin/env bash
# Delivery throughput: preload N outbox messages (1000 bytes), start `mtaq delivery` against a sink,
# and time until every result is published (results queue, broker-confirmed, Redis budgets on).
#
#   bash bench/delivery/run.sh                       # default matrix
#   MESSAGES=20000 LIMITS="1 5 20" SINKS="postfix node" bash bench/delivery/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-10000}
LIMITS=${LIMITS:-"1 5 20"}
SINKS=${SINKS:-"postfix node"}
SINK_PORT=${SINK_PORT:-12527}
QUEUE=${QUEUE:-mtaq-bench-outbox}
SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -f apps/cli/dist/main.js ] || npm run build --silent

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
count() { node bench/ingress/queue-count.mjs "$1" "${@:2}"; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for q in "$QUEUE" "$QUEUE-results"; do count "$q" --delete >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

start_sink() {
  case $1 in
    postfix) "$SINK" -u nobody "127.0.0.1:$SINK_PORT" 1000 >/dev/null 2>&1 & ;;
    node) node bench/delivery/node-sink.mjs "$SINK_PORT" & ;;
  esac
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  sleep 0.5
}

printf '%-40s %10s %12s %10s\n' "run" "messages" "messages/s" "max RSS"
for sink in $SINKS; do
  start_sink "$sink"
  for limit in $LIMITS; do
    count "$QUEUE" --purge >/dev/null
    count "$QUEUE-results" --purge >/dev/null
    node bench/delivery/preload.mjs "$QUEUE" "$MESSAGES"
    t0=$(now)
    node apps/cli/dist/main.js delivery --config-file /dev/null --rabbitmq-address amqp://guest:guest@127.0.0.1/ \
      --rabbitmq-outbox "$QUEUE" --rabbitmq-results "$QUEUE-results" --rabbitmq-persistent true \
      --smtp-sink-address 127.0.0.1 --smtp-sink-port "$SINK_PORT" --smtp-default-ips 127.0.0.1 \
      --delivery-limits "* * connections=$limit" --redis-address redis://127.0.0.1:6379 \
      --delivery-max-messages 10000 --log-level warn >/tmp/mtaq-bench-delivery.log 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    rss=0
    while [ "$(count "$QUEUE-results")" -lt "$MESSAGES" ]; do
      r=$(ps -o rss= -p "$DPID" 2>/dev/null || echo 0); [ "${r:-0}" -gt "$rss" ] && rss=$r
      kill -0 "$DPID" 2>/dev/null || { echo "delivery died: $(tail -3 /tmp/mtaq-bench-delivery.log)" >&2; exit 1; }
      sleep 0.2
    done
    t1=$(now)
    kill "$DPID"; wait "$DPID" 2>/dev/null || true
    printf '%-40s %10d %12s %9dM\n' "delivery → $sink sink, $limit connection(s)" "$MESSAGES" "$(rate "$MESSAGES" "$t0" "$t1")" "$((rss / 1024))"
  done
  kill "$SINK_PID" 2>/dev/null || true
  sleep 0.3
done
