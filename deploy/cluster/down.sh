#!/usr/bin/env bash
# Stops the cluster started by up.sh: every process by its PID file (SIGTERM, then SIGKILL after a
# grace period), then whatever is left of it (RabbitMQ start scripts' process groups, processes
# still holding the cluster's files). Keeps queues, the database and logs unless --purge is given:
#   bash deploy/cluster/down.sh            stop (up.sh starts the same cluster again, queued mail and all)
#   bash deploy/cluster/down.sh --purge    stop and remove the run directory and the cluster's database
set -uo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

purge=false
[ "${1-}" = --purge ] && purge=true

# SIGTERM to every PID of the given names, wait up to $1 seconds, then SIGKILL
stop_names() {
  local grace="$1" name pid pids=()
  shift
  for name in "$@"; do
    pid="$(pid_of "$name")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + grace))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

if [ -d "$RUN" ]; then
  # mtaq first (delivery finishes its transactions, ingress its sessions), then what they use
  stop_names 20 delivery-1 delivery-2 ingress-1 ingress-2
  stop_names 5 haproxy redis
  # RabbitMQ: SIGTERM is a graceful stop of the node; the three stop in parallel
  stop_names 30 rabbit-1 rabbit-2 rabbit-3
  for n in 1 2 3; do
    group="$(cat "$RUN/rabbit-$n/group.pid" 2>/dev/null || true)"
    [ -n "$group" ] && kill -KILL -- "-$group" 2>/dev/null
  done
  # leftovers: anything still running from the run directory (a process whose PID file was lost)
  for pid in $(pgrep -f -- "$RUN/" 2>/dev/null); do
    [ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null
  done
fi

if $purge; then
  rm -rf "$RUN"
  case "$CLUSTER_DATABASE" in
    postgresql://* | postgres://*)
      psql "${CLUSTER_DATABASE%/*}/postgres" -qc "drop database if exists \"${CLUSTER_DATABASE##*/}\" with (force)" >/dev/null 2>&1 || true
      ;;
  esac
  log "stopped and purged"
else
  log "stopped (data kept in $RUN)"
fi
