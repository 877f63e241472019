#!/usr/bin/env bash
# Latency at a fixed rate (issue 13), mtaq against the bare harnesses in one run: mtaq ingress +
# mtaq delivery, then ingress-harness + delivery-harness, each fed RATE messages a second (1 KB, over
# 20 reused sessions) for DURATION seconds (10) by bench/compare/latency-load.mjs, which is also the SMTP sink.
# Prints p50/p99 (ms) from the end of DATA to the 250, and from the 250 to the message's arrival at
# the sink (enqueue -> delivered).
#
#   bash bench/compare/latency.sh                   # RATE=600 by default; bench/compare.sh passes half of the
#                                                   # end-to-end rate it measured in the same run
#   RATE=300 DURATION=20 bash bench/compare/latency.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

RATE=${RATE:-600}
SECONDS_RUN=${DURATION:-10}
HARNESS=${HARNESS:-../shared/harness}
CONFIG=${CONFIG:-etc/mtaq.conf}
SMTP_PORT=${SMTP_PORT:-12635}
SINK_PORT=${SINK_PORT:-12636}
Q=${Q:-mtaq-latency}
WORK=bench/.harness
mkdir -p "$WORK"
cp "$HARNESS"/ingress-harness.mjs "$HARNESS"/delivery-harness.mjs "$WORK"/
[ -f apps/cli/dist/main.js ] || npm run build --silent

COMMON=(--config-file "$CONFIG" --log-level warn --www-port '' --database-address "sqlite://$PWD/$WORK/latency-rules.sqlite"
  --rabbitmq-inbox "$Q" --rabbitmq-outbox "$Q" --rabbitmq-results "$Q-results" --rabbitmq-failure "$Q-failure")
count() { node bench/ingress/queue-count.mjs "$@"; }
purge() { for q in "$Q" "$Q-results" "$Q-failure"; do count "$q" --purge >/dev/null 2>&1 || true; done; }
PIDS=()
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 1 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for q in "$Q" "$Q-results" "$Q-failure" "$Q.node.1"; do count "$q" --delete >/dev/null 2>&1 || true; done
  rm -f "$WORK"/latency-rules.sqlite*
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

one() { # side
  local side=$1 p1 p2
  purge
  if [ "$side" = mtaq ]; then
    node apps/cli/dist/main.js ingress "${COMMON[@]}" --smtp-port "$SMTP_PORT" --smtp-ip 127.0.0.1 --smtp-connections-per-ip 0 --smtp-connection-rate-per-ip 0 >"$WORK/latency-ingress.log" 2>&1 & p1=$!
    node apps/cli/dist/main.js delivery "${COMMON[@]}" --smtp-sink-address 127.0.0.1 --smtp-sink-port "$SINK_PORT" --delivery-limits '* * connections=20' >"$WORK/latency-delivery.log" 2>&1 & p2=$!
  else
    PORT=$SMTP_PORT QUEUE=$Q node "$WORK/ingress-harness.mjs" >"$WORK/latency-ingress.log" 2>&1 & p1=$!
    QUEUE=$Q SINK_PORT=$SINK_PORT CONNECTIONS=20 node "$WORK/delivery-harness.mjs" >"$WORK/latency-delivery.log" 2>&1 & p2=$!
  fi
  PIDS+=("$p1" "$p2")
  wait_port "$SMTP_PORT"; sleep 1
  local out
  out=$(node bench/compare/latency-load.mjs --port "$SMTP_PORT" --sink-port "$SINK_PORT" --rate "$RATE" --seconds "$SECONDS_RUN")
  stop "$p1"; stop "$p2"
  echo "$side $out"
}

echo "latency at $RATE msg/s for $SECONDS_RUN s, 1 KB, 20 reused sessions in, 20 connections out; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| side | offered /s | 250s | delivered | DATA→250 p50 / p99 ms | enqueue→delivered p50 / p99 ms |"
echo "|---|---|---|---|---|---|"
for side in mtaq harness; do
  line=$(one "$side")
  node -e '
    const [side, ...rest] = process.argv[1].split(" "); const r = JSON.parse(rest.join(" "));
    console.log(`| ${side} | ${r.offered} | ${r.accepted}/${r.sent} | ${r.delivered} | ${r.dataTo250.p50} / ${r.dataTo250.p99} | ${r.enqueueToDelivered.p50} / ${r.enqueueToDelivered.p99} |`);
  ' "$line"
done
