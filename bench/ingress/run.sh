#!/usr/bin/env bash
# Ingress throughput: Postfix's smtp-source drives `mtaq ingress` (1000-byte messages) and we
# count messages/s until every one is confirmed in the inbox queue. The same load against
# Postfix's smtp-sink (which does no work at all) gives this machine's ceiling.
#
#   bash bench/ingress/run.sh                      # default matrix
#   MESSAGES=20000 SESSIONS="10 100 150" THREADS=2 bash bench/ingress/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-"10 100 150"}
REUSED=${REUSED:-"10 100"}
THREADS=${THREADS:-2}
SIZE=${SIZE:-1000}
PORT=${PORT:-12525}
SINK_PORT=${SINK_PORT:-12526}
QUEUE=${QUEUE:-mtaq-bench-inbox}
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$SOURCE" ] || { echo "smtp-source not found: apt-get install postfix" >&2; exit 1; }

[ -f apps/cli/dist/main.js ] || npm run build --silent

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
queue_count() { node bench/ingress/queue-count.mjs "$QUEUE"; }

# drive HOST:PORT with smtp-source; extra args passed through (e.g. -d to reuse sessions)
drive() {
  local port=$1 sessions=$2; shift 2
  "$SOURCE" -s "$sessions" -m "$MESSAGES" -l "$SIZE" -f bench@example.com -t rcpt@example.org \
    -M bench.example "$@" "127.0.0.1:$port" >/dev/null
}

wait_confirmed() {
  node bench/ingress/queue-count.mjs "$QUEUE" --wait "$MESSAGES" >/dev/null ||
    { echo "only $(queue_count)/$MESSAGES messages reached $QUEUE" >&2; return 1; }
}

printf '%-34s %10s %12s\n' "run" "messages" "messages/s"

# the ceiling: smtp-sink accepts and discards
"$SINK" -u nobody "127.0.0.1:$SINK_PORT" 1000 >/dev/null 2>&1 &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null || true' EXIT
sleep 0.3
for s in $SESSIONS; do
  t0=$(now); drive "$SINK_PORT" "$s"; t1=$(now)
  printf '%-34s %10d %12s\n' "smtp-sink, $s sessions" "$MESSAGES" "$(rate "$MESSAGES" "$t0" "$t1")"
done
for s in $REUSED; do
  t0=$(now); drive "$SINK_PORT" "$s" -d; t1=$(now)
  printf '%-34s %10d %12s\n' "smtp-sink, $s sessions reused (-d)" "$MESSAGES" "$(rate "$MESSAGES" "$t0" "$t1")"
done
kill $SINK_PID 2>/dev/null || true

node apps/cli/dist/main.js ingress --config-file /dev/null --smtp-ip 127.0.0.1 --smtp-port "$PORT" --smtp-range 127.0.0.0/8 \
  --smtp-threads "$THREADS" --rabbitmq-address amqp://guest:guest@127.0.0.1/ --rabbitmq-inbox "$QUEUE" \
  --rabbitmq-persistent true --smtp-hostname bench.mtaq --log-level warn >/tmp/mtaq-bench-ingress.log 2>&1 &
MTAQ_PID=$!
trap 'kill $SINK_PID $MTAQ_PID 2>/dev/null || true; node bench/ingress/queue-count.mjs "$QUEUE" --delete >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

run_mtaq() {
  local label=$1 sessions=$2; shift 2
  node bench/ingress/queue-count.mjs "$QUEUE" --purge >/dev/null
  t0=$(now); drive "$PORT" "$sessions" "$@"; wait_confirmed; t1=$(now)
  printf '%-34s %10d %12s\n' "$label" "$MESSAGES" "$(rate "$MESSAGES" "$t0" "$t1")"
}
for s in $SESSIONS; do run_mtaq "mtaq ($THREADS threads), $s sessions" "$s"; done
for s in $REUSED; do run_mtaq "mtaq ($THREADS threads), $s reused (-d)" "$s" -d; done
