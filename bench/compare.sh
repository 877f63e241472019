#!/usr/bin/env bash
# mtaq against the bare reference harnesses (../shared/harness, issue 13), in one run on one machine:
# each row runs mtaq and the harness ALTERNATELY (ROUNDS rounds each, the order flipped every round,
# one process each) and reports the median rate of each side, their ratio and the target.
#
#   bash bench/compare.sh                               # every row, COUNT=20000 messages, 3 rounds
#   ROWS="delivery" COUNT=5000 ROUNDS=1 bash bench/compare.sh   # a quick subset
#   EXTRA_ARGS="--key value ...": extra options for mtaq's side (experiments: what one feature costs)
#   NODE_FLAGS="--trace-gc ...": node flags for the measured processes of both sides (ingress, delivery rows)
#   QUEUE_VERSION=2 (default): classic queues version 2 for both sides, by a policy on the run's queues; empty: the broker's default
#   SIDES=mtaq: run only mtaq's side of each row (A/B experiments on one side; the ratios are then meaningless)
#   ROWS: ingress delivery e2e latency sizes memory (one row alone: ingress150 ingress10 ingress-reused delivery20 delivery1)   THREADS: mtaq smtp-threads
#
# mtaq runs with etc/mtaq.conf (every check it configures on; results published; Redis budgets and
# claims on; a rule database of its own) plus only what a benchmark must change: ports, queue names,
# the sink as smarthost, and the per-IP caps raised, because every session comes from the single
# load address 127.0.0.1 (smtp-connections-per-ip 0, smtp-connection-rate-per-ip 0).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-20000}
ROUNDS=${ROUNDS:-3}
ROWS=${ROWS:-"ingress delivery e2e latency sizes memory"}
HARNESS=${HARNESS:-../shared/harness}
CONFIG=${CONFIG:-etc/mtaq.conf}
SMTP_PORT=${SMTP_PORT:-12625}
SINK_PORT=${SINK_PORT:-12626}
Q=${Q:-mtaq-compare}
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$SOURCE" ] || { echo "smtp-source not found: apt-get install postfix (scripts/test-env.sh)" >&2; exit 1; }
[ -f apps/cli/dist/main.js ] || npm run build --silent

# the harnesses import amqplib, smtp-server and nodemailer: inside the project they resolve our node_modules
WORK=bench/.harness
mkdir -p "$WORK"
cp "$HARNESS"/ingress-harness.mjs "$HARNESS"/delivery-harness.mjs "$WORK"/
rm -f "$WORK"/rules.sqlite*

MTAQ=(node apps/cli/dist/main.js)
COMMON=(--config-file "$CONFIG" --log-level warn --www-port '' --database-address "sqlite://$PWD/$WORK/rules.sqlite"
  --rabbitmq-inbox "$Q" --rabbitmq-outbox "$Q" --rabbitmq-results "$Q-results" --rabbitmq-failure "$Q-failure")
INGRESS=(--smtp-port "$SMTP_PORT" --smtp-ip 127.0.0.1 --smtp-connections-per-ip 0 --smtp-connection-rate-per-ip 0
  ${THREADS:+--smtp-threads "$THREADS"})
delivery_args() { DARGS=(--smtp-sink-address 127.0.0.1 --smtp-sink-port "$SINK_PORT" --delivery-limits "* * connections=$1" ${EXTRA_ARGS:-}); }

count() { node bench/ingress/queue-count.mjs "$@"; }
purge() { for q in "$Q" "$Q-results" "$Q-failure"; do count "$q" --purge >/dev/null; done; }
PIDS=()
stop() { # stop one process we started, by PID; give it 20 s to drain
  local pid=$1
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # delivery also declares its own node queue (cluster, server-id 1 in etc/mtaq.conf)
  for q in "$Q" "$Q-results" "$Q-failure" "$Q.node.1"; do count "$q" --delete >/dev/null 2>&1 || true; done
  [ -z "${QUEUE_VERSION:-}" ] || rabbitmqctl clear_policy "$Q-queue-version" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Classic queues in RabbitMQ's version 2 format (its default since 3.13; 3.10 has it by policy or
# queue argument): a broker setting, so one policy for every queue of the run, both sides alike.
# QUEUE_VERSION= (empty) keeps the broker's default (version 1 on Debian 12's RabbitMQ 3.10).
QUEUE_VERSION=${QUEUE_VERSION-2}
if [ -n "$QUEUE_VERSION" ] && ! rabbitmqctl set_policy "$Q-queue-version" "^$Q" "{\"queue-version\":$QUEUE_VERSION}" --apply-to queues >/dev/null 2>&1; then
  echo "note: could not set the queue-version policy (rabbitmqctl as root?): the broker's default queue version is used" >&2
  QUEUE_VERSION=
fi
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
start_sink() { SINK_OUT=$WORK/sink.out; : >"$SINK_OUT"; "$SINK" -c -u nobody "127.0.0.1:$SINK_PORT" 1000 >"$SINK_OUT" 2>&1 & SINK_PID=$!; PIDS+=("$SINK_PID"); wait_port "$SINK_PORT"; }
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
# the sides of round r in the order they run: flipped every round, or only $SIDES when it is set
sides_of_round() { if [ -n "${SIDES:-}" ]; then echo "$SIDES"; elif [ $(($1 % 2)) -eq 0 ]; then echo "harness mtaq"; else echo "mtaq harness"; fi; }

TABLE=()
row() { # label, mtaq rates, harness rates (or "-"), target ratio (or "-"), rss note
  local label=$1 m h target=$4 note=${5:-}
  m=$(echo "$2" | median)
  if [ "$3" = "-" ]; then h="-"; ratio="-"; else h=$(echo "$3" | median); ratio=$(awk -v a="$m" -v b="$h" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'); fi
  local verdict="-"
  if [ "$target" != "-" ]; then
    case $target in
      '>='*) verdict=$(awk -v r="$m" -v t="${target#>=}" 'BEGIN { print (r >= t) ? "pass" : "FAIL" }') ;;
      *) verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r >= t) ? "pass" : "FAIL" }') ;;
    esac
  fi
  TABLE+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$label" "$(printf '%.0f' "$m")" "$([ "$h" = - ] && echo - || printf '%.0f' "$h")" "$ratio" "$target" "$verdict" "$note")")
  printf '  -> %s: mtaq %s [%s], harness %s [%s]\n' "$label" "$m" "$(echo $2)" "$h" "$(echo $3)" >&2
}

# ------------------------------------------------------------------ ingress
# one round of one side: smtp-source against it until every 250 is in; rate = messages / seconds
ingress_round() { # side sessions count [smtp-source args]
  local side=$1 sessions=$2 n=$3; shift 3
  purge
  if [ "$side" = mtaq ]; then
    node ${NODE_FLAGS:-} ${PROFILE:+--cpu-prof --cpu-prof-dir "$WORK/prof-ingress"} apps/cli/dist/main.js ingress "${COMMON[@]}" "${INGRESS[@]}" >"$WORK/ingress.log" 2>&1 &
  else
    PORT=$SMTP_PORT QUEUE=$Q node ${NODE_FLAGS:-} ${PROFILE:+--cpu-prof --cpu-prof-dir "$WORK/prof-ingress-harness"} "$WORK/ingress-harness.mjs" >"$WORK/ingress-harness.log" 2>&1 &
  fi
  local pid=$!; PIDS+=("$pid")
  wait_port "$SMTP_PORT"; sleep 0.3
  local t0 t1 c0 c1 b0 b1 broker; broker=$(listener_pid 5672)
  t0=$(now); c0=$(tree_ticks "$pid"); b0=$(cpu_ticks "$broker")
  "$SOURCE" -s "$sessions" -m "$n" -l "${SIZE:-1000}" -f bench@example.com -t rcpt@example.org -M bench.example "$@" "127.0.0.1:$SMTP_PORT" >/dev/null
  t1=$(now); c1=$(tree_ticks "$pid"); b1=$(cpu_ticks "$broker")
  local got rss; got=$(count "$Q"); rss=$(tree_hwm "$pid")
  stop "$pid"
  [ "$got" -ge "$n" ] || echo "  !! $side: only $got/$n messages in $Q" >&2
  echo "$side $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }') $((rss / 1024)) $(( (c1 - c0) * 10000 / n )) $(( (b1 - b0) * 10000 / n ))"
}
# the PID of the process listening on a local TCP port (RabbitMQ 5672, Redis 6379), or 0
listener_pid() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true; }
# user + system CPU of a process (and its threads) in clock ticks (1/100 s)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# with smtp-threads above 1 the ingress is a primary and its workers: CPU and peak RSS of all of them
tree() { echo "$1" $(pgrep -P "$1" 2>/dev/null || true); }
tree_ticks() { local t=0 p; for p in $(tree "$1"); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
# the sum of each process's own peak: at least the peak of the whole (they need not peak together)
tree_hwm() { local k=0 p; for p in $(tree "$1"); do k=$((k + $(awk '/VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$k"; }

ingress_row() { # label target sessions [smtp-source args]
  local label=$1 target=$2 sessions=$3; shift 3
  local m="" h="" mr=0 hr=0 mc="" hc="" mb="" hb="" mrs="" hrs="" out
  for r in $(seq 1 "$ROUNDS"); do
    for side in $(sides_of_round "$r"); do
      out=$(ingress_round "$side" "$sessions" "$COUNT" "$@")
      local rate rss cpu broker
      read -r _ rate rss cpu broker <<<"$out"
      if [ "$side" = mtaq ]; then m+=" $rate"; mc+=" $cpu"; mb+=" $broker"; mrs+=" $rss"; [ "$rss" -gt "$mr" ] && mr=$rss
      else h+=" $rate"; hc+=" $cpu"; hb+=" $broker"; hrs+=" $rss"; [ "$rss" -gt "$hr" ] && hr=$rss; fi
    done
  done
  printf '     peak RSS per round (MB): mtaq [%s], harness [%s]\n' "${mrs# }" "${hrs# }" >&2
  row "$label" "$m" "$h" "$target" "RSS ${mr} / ${hr} MB; CPU $(echo "$mc" | median) / $(echo "$hc" | median) µs/msg; RabbitMQ $(echo "$mb" | median) / $(echo "$hb" | median) µs/msg"
  INGRESS_RSS="$mr $hr"
}
# issue 13's memory target for ingress: peak RSS of the 150-session row (1 KB messages) ≤ 150 MB
ingress_rss_row() {
  local mr hr; read -r mr hr <<<"$INGRESS_RSS"
  TABLE+=("$(printf '| ingress peak RSS, 150 sessions of 1 KB | %s MB | %s MB | - | ≤ 150 MB | %s | MB, not /s |' "$mr" "$hr" "$([ "$mr" -le 150 ] && echo pass || echo FAIL)")")
}

# ------------------------------------------------------------------ delivery
delivery_round() { # side connections count [preload args]
  local side=$1 connections=$2 n=$3; shift 3
  purge
  node bench/delivery/preload.mjs "$Q" "$n" "$@"
  start_sink
  if [ "$side" = mtaq ]; then
    delivery_args "$connections"
    node ${NODE_FLAGS:-} ${PROFILE:+--cpu-prof --cpu-prof-dir "$WORK/prof"} apps/cli/dist/main.js delivery "${COMMON[@]}" "${DARGS[@]}" >"$WORK/delivery.log" 2>&1 &
  else
    QUEUE=$Q SINK_PORT=$SINK_PORT CONNECTIONS=$connections node ${NODE_FLAGS:-} ${PROFILE:+--cpu-prof --cpu-prof-dir "$WORK/prof-harness"} "$WORK/delivery-harness.mjs" >"$WORK/delivery-harness.log" 2>&1 &
  fi
  local pid=$!; PIDS+=("$pid")
  local out others
  others="--others $(listener_pid 5672),$(listener_pid 6379)"
  if [ "$side" = mtaq ]; then out=$(node bench/compare/watch.mjs --sink "$SINK_OUT" --n "$n" --queue "$Q-results" --pid "$pid" $others)
  else out=$(node bench/compare/watch.mjs --sink "$SINK_OUT" --n "$n" --pid "$pid" $others); fi
  echo "  $side $connections: $out" >&2
  stop "$pid"; stop "$SINK_PID"
  local secs=${out%% *} rss=${out##* } cpu services
  cpu=$(echo "$out" | awk '{ print $3 }')
  services=$(echo "$out" | awk -v n="$n" '{ split($4, c, ","); printf "%.0f %.0f", 1e6 * c[1] / n, 1e6 * c[2] / n }')
  echo "$side $(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0) ? n / s : 0 }') $((rss / 1024)) $(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.0f", (n > 0) ? 1e6 * c / n : 0 }') $services"
}

delivery_row() { # label target connections count [preload args]
  local label=$1 target=$2 connections=$3 n=$4; shift 4
  local m="" h="" mr=0 hr=0 mc="" hc="" mb="" hb="" mk="" hk="" out
  for r in $(seq 1 "$ROUNDS"); do
    for side in $(sides_of_round "$r"); do
      out=$(delivery_round "$side" "$connections" "$n" "$@")
      local rate rss cpu broker redis
      read -r _ rate rss cpu broker redis <<<"$out"
      if [ "$side" = mtaq ]; then m+=" $rate"; mc+=" $cpu"; mb+=" $broker"; mk+=" $redis"; [ "$rss" -gt "$mr" ] && mr=$rss
      else h+=" $rate"; hc+=" $cpu"; hb+=" $broker"; hk+=" $redis"; [ "$rss" -gt "$hr" ] && hr=$rss; fi
    done
  done
  # CPU µs per message (median): what the machine's other load does not distort; and what each
  # side's work cost RabbitMQ and Redis, which share the two cores with it
  row "$label" "$m" "$h" "$target" "RSS ${mr} / ${hr} MB; CPU $(echo "$mc" | median) / $(echo "$hc" | median) µs/msg; RabbitMQ $(echo "$mb" | median) / $(echo "$hb" | median), Redis $(echo "$mk" | median) / $(echo "$hk" | median) µs/msg"
}

# ------------------------------------------------------------------ memory
# delivery's peak RSS with MEMORY_COUNT (100,000) messages waiting in the outbox: each side consumes
# for MEMORY_SECONDS (20) and is stopped; the peak resident set (VmHWM) is the row's figure.
memory_row() {
  local n=${MEMORY_COUNT:-100000} secs=${MEMORY_SECONDS:-20} mr hr pid
  for side in mtaq harness; do
    purge
    node bench/delivery/preload.mjs "$Q" "$n"
    start_sink
    if [ "$side" = mtaq ]; then
      delivery_args 20
      "${MTAQ[@]}" delivery "${COMMON[@]}" "${DARGS[@]}" >"$WORK/delivery.log" 2>&1 & pid=$!
    else
      QUEUE=$Q SINK_PORT=$SINK_PORT CONNECTIONS=20 node "$WORK/delivery-harness.mjs" >"$WORK/delivery-harness.log" 2>&1 & pid=$!
    fi
    PIDS+=("$pid")
    sleep "$secs"
    local rss; rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    stop "$pid"; stop "$SINK_PID"
    if [ "$side" = mtaq ]; then mr=$((rss / 1024)); else hr=$((rss / 1024)); fi
  done
  purge
  TABLE+=("$(printf '| delivery peak RSS, %s messages waiting, %s s consuming | %s MB | %s MB | - | ≤ 200 MB | %s | MB, not /s |' "$n" "$secs" "$mr" "$hr" "$([ "$mr" -le 200 ] && echo pass || echo FAIL)")")
}

# ------------------------------------------------------------------ end to end
# mtaq ingress → outbox → mtaq delivery → sink, against ingress harness → queue → delivery harness → sink
e2e_round() { # side count
  local side=$1 n=$2 p1 p2
  purge
  start_sink
  if [ "$side" = mtaq ]; then
    "${MTAQ[@]}" ingress "${COMMON[@]}" "${INGRESS[@]}" >"$WORK/e2e-ingress.log" 2>&1 & p1=$!
    delivery_args 20
    "${MTAQ[@]}" delivery "${COMMON[@]}" "${DARGS[@]}" >"$WORK/e2e-delivery.log" 2>&1 & p2=$!
  else
    PORT=$SMTP_PORT QUEUE=$Q node ${PROFILE:+--cpu-prof --cpu-prof-dir "$WORK/prof-ingress-harness"} "$WORK/ingress-harness.mjs" >"$WORK/e2e-ingress.log" 2>&1 & p1=$!
    QUEUE=$Q SINK_PORT=$SINK_PORT CONNECTIONS=20 node "$WORK/delivery-harness.mjs" >"$WORK/e2e-delivery.log" 2>&1 & p2=$!
  fi
  PIDS+=("$p1" "$p2")
  wait_port "$SMTP_PORT"; sleep 0.5
  local t0 t1; t0=$(now)
  "$SOURCE" -s 100 -m "$n" -l 1000 -f bench@example.com -t rcpt@bench.test -M bench.example "127.0.0.1:$SMTP_PORT" >/dev/null
  if [ "$side" = mtaq ]; then node bench/compare/watch.mjs --sink "$SINK_OUT" --n "$n" --queue "$Q-results" >/dev/null
  else node bench/compare/watch.mjs --sink "$SINK_OUT" --n "$n" >/dev/null; fi
  t1=$(now)
  local results failures; results=$(count "$Q-results"); failures=$(count "$Q-failure")
  stop "$p1"; stop "$p2"; stop "$SINK_PID"
  [ "$side" = mtaq ] && echo "  e2e mtaq: results $results, failures $failures, lost $((n - results))" >&2
  echo "$side $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
}

e2e_row() {
  local m="" h="" out
  for r in $(seq 1 "$ROUNDS"); do
    for side in $(sides_of_round "$r"); do
      out=$(e2e_round "$side" "$COUNT")
      if [ "${out%% *}" = mtaq ]; then m+=" ${out#* }"; else h+=" ${out#* }"; fi
    done
  done
  row "end to end, 100 sessions in, 20 connections out" "$m" "$h" ">=2000" "target: ≥ 2,000/s, 0 lost"
  E2E_MTAQ=$(echo "$m" | median)
}

# issue 13 asks for latency at half the saturating rate: half of mtaq's end-to-end rate of this run
# when the e2e row ran before it (RATE overrides; latency.sh's own default otherwise)
latency_row() {
  local rate=${RATE:-}
  [ -z "$rate" ] && [ -n "${E2E_MTAQ:-}" ] && rate=$(awk -v r="$E2E_MTAQ" 'BEGIN { printf "%.0f", r / 2 }')
  RATE=$rate bash bench/compare/latency.sh >&2 || true
}

echo "mtaq vs the bare harnesses: $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(. /etc/os-release; echo "$PRETTY_NAME"), node $(node -v)"
echo "RabbitMQ $(rabbitmqctl version 2>/dev/null || echo '?'), classic queues version ${QUEUE_VERSION:-"of the broker's default"} (policy on ^$Q, both sides)"
echo "COUNT=$COUNT ROUNDS=$ROUNDS (median of the rounds; mtaq and harness alternate, order flipped each round); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mtaq: $CONFIG + per-IP caps raised for the single load address 127.0.0.1 (smtp-connections-per-ip 0, smtp-connection-rate-per-ip 0)${THREADS:+; smtp-threads $THREADS (ingress CPU and RSS: primary and workers together)}"
for what in $ROWS; do
  case $what in
    ingress)
      ingress_row "ingress, 150 sessions, new connection per message" 1.0 150
      ingress_rss_row
      ingress_row "ingress, 10 sessions, new connection per message" 1.0 10
      ingress_row "ingress, 100 sessions reused (smtp-source -d)" 1.0 100 -d
      ;;
    delivery)
      delivery_row "delivery, 20 connections, 100 msgs/connection" 1.0 20 "$COUNT"
      delivery_row "delivery, 1 connection" 0.9 1 "$((COUNT / 4))"
      ;;
    ingress150) ingress_row "ingress, 150 sessions, new connection per message" 1.0 150; ingress_rss_row ;;
    ingress10) ingress_row "ingress, 10 sessions, new connection per message" 1.0 10 ;;
    ingress-reused) ingress_row "ingress, 100 sessions reused (smtp-source -d)" 1.0 100 -d ;;
    delivery20) delivery_row "delivery, 20 connections, 100 msgs/connection" 1.0 20 "$COUNT" ;;
    delivery1) delivery_row "delivery, 1 connection" 0.9 1 "$((COUNT / 4))" ;;
    e2e) e2e_row ;;
    memory) memory_row ;;
    latency) latency_row ;;
    sizes) [ -f bench/compare/sizes.sh ] && . bench/compare/sizes.sh ;;
  esac
done
echo
echo "| row | mtaq /s | harness /s | ratio | target | result | notes (peak RSS mtaq / harness) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${TABLE[@]}"
