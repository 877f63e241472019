#!/usr/bin/env bash
# What smtp-check costs: the same DKIM-signed message (~1000 bytes, SPF, DKIM and DMARC pass) sent
# to two `mtaq ingress` processes side by side, one with `smtp-check: spf,dkim,dmarc` against a
# local DNS server (dnsmasq) and one without, in the same run; messages/s until every message is
# confirmed in the inbox queue.
#
#   bash bench/ingress/checks.sh
#   MESSAGES=20000 SESSIONS="10 100" REUSED="100" bash bench/ingress/checks.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-"10 100"}
REUSED=${REUSED:-"100"}
CHECKS=${CHECKS:-spf,dkim,dmarc}
PORT_OFF=${PORT_OFF:-12535}
PORT_ON=${PORT_ON:-12536}
DNS_PORT=${DNS_PORT:-12553}
QUEUE_OFF=mtaq-bench-checks-off
QUEUE_ON=mtaq-bench-checks-on
DNSMASQ=$(PATH="$PATH:/usr/sbin:/sbin" command -v dnsmasq || true)
[ -n "$DNSMASQ" ] || { echo "dnsmasq not found: apt-get install dnsmasq-base" >&2; exit 1; }

[ -f apps/cli/dist/main.js ] || npm run build --silent

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  for q in "$QUEUE_OFF" "$QUEUE_ON"; do node bench/ingress/queue-count.mjs "$q" --delete >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

node bench/ingress/signed-message.mjs "$WORK" >/dev/null
{
  echo "no-resolv"; echo "no-hosts"; echo "bind-interfaces"; echo "listen-address=127.0.0.1"
  echo "port=$DNS_PORT"; echo "local=/example/"; echo "local=/bench.example/"; echo "local-ttl=300"
  echo "user=$(id -un)"
  cat "$WORK/dnsmasq.conf"
} >"$WORK/dns.conf"
"$DNSMASQ" --keep-in-foreground --conf-file="$WORK/dns.conf" --pid-file= --log-facility=- 2>"$WORK/dnsmasq.log" &
PIDS+=($!)

start_ingress() {
  local port=$1 queue=$2; shift 2
  node apps/cli/dist/main.js ingress --config-file /dev/null --smtp-ip 127.0.0.1 --smtp-port "$port" \
    --smtp-range 127.0.0.0/8 --rabbitmq-address amqp://guest:guest@127.0.0.1/ --rabbitmq-inbox "$queue" \
    --rabbitmq-persistent true --smtp-hostname bench.mtaq --dns-servers "127.0.0.1:$DNS_PORT" \
    --log-level warn "$@" >"$WORK/ingress-$port.log" 2>&1 &
  PIDS+=($!)
}
start_ingress "$PORT_OFF" "$QUEUE_OFF"
start_ingress "$PORT_ON" "$QUEUE_ON" --smtp-check "$CHECKS"
for port in "$PORT_OFF" "$PORT_ON"; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

now() { date +%s.%N; }
# one load against one ingress: messages/s until all are confirmed in its queue
run() {
  local port=$1 queue=$2; shift 2
  node bench/ingress/queue-count.mjs "$queue" --purge >/dev/null
  local t0 t1
  t0=$(now)
  node bench/ingress/smtp-load.mjs --port "$port" --messages "$MESSAGES" --file "$WORK/message.eml" \
    --from bench@bench.example --helo bench.example "$@" >/dev/null
  node bench/ingress/queue-count.mjs "$queue" --wait "$MESSAGES" >/dev/null
  t1=$(now)
  awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}
# the verdicts the checks put in the JSON, from one message of the last run
verdicts() {
  node -e '
    const { connect } = await import("amqplib");
    const c = await connect("amqp://guest:guest@127.0.0.1/"); const ch = await c.createChannel();
    const m = await ch.get(process.argv[1], { noAck: true });
    console.log(m ? JSON.stringify(JSON.parse(m.content.toString()).checks) : "(none)"); await c.close();' --input-type=module "$QUEUE_ON"
}

printf '%-32s %12s %12s %7s\n' "load (${MESSAGES} messages)" "checks off" "checks on" "on/off"
row() {
  local label=$1; shift
  local off on
  off=$(run "$PORT_OFF" "$QUEUE_OFF" "$@")
  on=$(run "$PORT_ON" "$QUEUE_ON" "$@")
  printf '%-32s %10s/s %10s/s %7s\n' "$label" "$off" "$on" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')"
}
# a warm-up of both, so neither pays for JIT and connection set-up in the table
MESSAGES_SAVED=$MESSAGES; MESSAGES=500
run "$PORT_OFF" "$QUEUE_OFF" --sessions 10 >/dev/null; run "$PORT_ON" "$QUEUE_ON" --sessions 10 >/dev/null
MESSAGES=$MESSAGES_SAVED
for s in $SESSIONS; do row "$s sessions, new connection each" --sessions "$s"; done
for s in $REUSED; do row "$s sessions reused" --sessions "$s" --reuse; done
echo "checks of the last message: $(verdicts)"
