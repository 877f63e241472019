# Sourced by bench/compare.sh (ROWS=sizes): issue 13's size mix instead of 1 KB, for rates and RSS.
# Of every 20 messages 14 are 5 KB, 5 are 50 KB and 1 is 1 MB (70 % / 25 % / 5 %).
#   ingress: three smtp-source runs at once (70 + 25 + 5 sessions, a new connection per message,
#            COUNT split 70/25/5); rate = COUNT / time until the last 250.
#   delivery: bench/delivery/preload.mjs with SIZE=mix, 20 connections, COUNT/2 messages.
# Uses compare.sh's functions and settings (purge, count, stop, wait_port, row, delivery_row, ...).

sizes_ingress_round() { # side count
  local side=$1 n=$2
  purge
  if [ "$side" = mtaq ]; then
    "${MTAQ[@]}" ingress "${COMMON[@]}" "${INGRESS[@]}" >"$WORK/ingress.log" 2>&1 &
  else
    PORT=$SMTP_PORT QUEUE=$Q node "$WORK/ingress-harness.mjs" >"$WORK/ingress-harness.log" 2>&1 &
  fi
  local pid=$!; PIDS+=("$pid")
  wait_port "$SMTP_PORT"; sleep 0.3
  local small=$((n * 70 / 100)) medium=$((n * 25 / 100)); local large=$((n - small - medium))
  local t0 t1 c0 c1; t0=$(now); c0=$(cpu_ticks "$pid")
  local args=(-f bench@example.com -t rcpt@example.org -M bench.example)
  "$SOURCE" -s 70 -m "$small" -l 5000 "${args[@]}" "127.0.0.1:$SMTP_PORT" >/dev/null & local s1=$!
  "$SOURCE" -s 25 -m "$medium" -l 50000 "${args[@]}" "127.0.0.1:$SMTP_PORT" >/dev/null & local s2=$!
  "$SOURCE" -s 5 -m "$large" -l 1000000 "${args[@]}" "127.0.0.1:$SMTP_PORT" >/dev/null & local s3=$!
  wait "$s1" "$s2" "$s3"
  t1=$(now); c1=$(cpu_ticks "$pid")
  local got rss; got=$(count "$Q"); rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
  stop "$pid"
  [ "$got" -ge "$n" ] || echo "  !! $side: only $got/$n messages in $Q" >&2
  echo "$side $(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }') $((rss / 1024)) $(( (c1 - c0) * 10000 / n ))"
}

sizes_rows() {
  local m="" h="" mr=0 hr=0 mc="" hc="" out rate rss cpu
  for r in $(seq 1 "$ROUNDS"); do
    local order="mtaq harness"; [ $((r % 2)) -eq 0 ] && order="harness mtaq"
    for side in $order; do
      out=$(sizes_ingress_round "$side" "$COUNT")
      read -r _ rate rss cpu <<<"$out"
      if [ "$side" = mtaq ]; then m+=" $rate"; mc+=" $cpu"; [ "$rss" -gt "$mr" ] && mr=$rss; else h+=" $rate"; hc+=" $cpu"; [ "$rss" -gt "$hr" ] && hr=$rss; fi
    done
  done
  row "ingress, size mix 70% 5 KB / 25% 50 KB / 5% 1 MB, 100 sessions" "$m" "$h" "-" "RSS ${mr} / ${hr} MB; CPU $(echo "$mc" | median) / $(echo "$hc" | median) µs/msg"
  SIZE=mix delivery_row "delivery, size mix 70% 5 KB / 25% 50 KB / 5% 1 MB, 20 connections" "-" 20 "$((COUNT / 2))"
}

sizes_rows
