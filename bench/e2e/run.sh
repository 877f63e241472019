#!/usr/bin/env bash
# End to end: smtp-source → mtaq ingress → RabbitMQ (inbox = outbox) → mtaq delivery → smtp-sink.
# Counts messages/s until every message has its result published, and checks that none was lost
# (results = messages sent, failures = 0).
#
#   bash bench/e2e/run.sh          MESSAGES=20000 SESSIONS=100 CONNECTIONS=20 bash bench/e2e/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-20000}
SESSIONS=${SESSIONS:-100}
CONNECTIONS=${CONNECTIONS:-20}
PORT=${PORT:-12528}
SINK_PORT=${SINK_PORT:-12529}
QUEUE=${QUEUE:-mtaq-bench-e2e}
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -f apps/cli/dist/main.js ] || npm run build --silent

count() { node bench/ingress/queue-count.mjs "$1" "${@:2}"; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for q in "$QUEUE" "$QUEUE-results" "$QUEUE-failure"; do count "$q" --delete >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for q in "$QUEUE" "$QUEUE-results" "$QUEUE-failure"; do count "$q" --purge >/dev/null; done

"$SINK" -u nobody "127.0.0.1:$SINK_PORT" 1000 >/dev/null 2>&1 &
PIDS+=($!)
common=(--config-file /dev/null --rabbitmq-address amqp://guest:guest@127.0.0.1/ --rabbitmq-persistent true
  --rabbitmq-inbox "$QUEUE" --rabbitmq-outbox "$QUEUE" --rabbitmq-results "$QUEUE-results"
  --rabbitmq-failure "$QUEUE-failure" --log-level warn)
node apps/cli/dist/main.js ingress "${common[@]}" --smtp-ip 127.0.0.1 --smtp-port "$PORT" --smtp-range 127.0.0.0/8 >/tmp/mtaq-e2e-ingress.log 2>&1 &
PIDS+=($!)
node apps/cli/dist/main.js delivery "${common[@]}" --smtp-sink-address 127.0.0.1 --smtp-sink-port "$SINK_PORT" \
  --smtp-default-ips 127.0.0.1 --delivery-limits "* * connections=$CONNECTIONS" --delivery-max-messages 10000 \
  --redis-address redis://127.0.0.1:6379 >/tmp/mtaq-e2e-delivery.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
sleep 0.5

t0=$(date +%s.%N)
"$SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l 1000 -f bench@example.com -t rcpt@example.org -M bench.example "127.0.0.1:$PORT" >/dev/null
count "$QUEUE-results" --wait "$MESSAGES" >/dev/null
t1=$(date +%s.%N)
results=$(count "$QUEUE-results"); failures=$(count "$QUEUE-failure")
awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" -v s="$SESSIONS" -v c="$CONNECTIONS" -v r="$results" -v f="$failures" \
  'BEGIN { printf "e2e: %d messages, %d sessions in, %d connections out: %.0f messages/s; results %d, failures %d, lost %d\n", n, s, c, n / (b - a), r, f, n - r }'
