#!/usr/bin/env bash
# The cluster's failure drills (test/drills/cluster.ts) against the cluster of env.sh: kill -9 of a
# RabbitMQ node, an ingress, a delivery node, Redis, and a restart of the whole cluster with mail
# queued. Starts the cluster with up.sh when it is not up; delivery relays to the drill's sink.
# Prints a table (stdout); exits 1 if a message that got its 250 was lost or a drill's check failed.
#
#   bash deploy/cluster/up.sh && bash deploy/cluster/drill.sh
#   MESSAGES=2000 bash deploy/cluster/drill.sh     (a) with 2,000 messages, (b)-(e) with a fifth/tenth
#   DRILLS=b,c bash deploy/cluster/drill.sh        only some drills
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
[ -f apps/cli/dist/main.js ] || { echo "apps/cli/dist/main.js missing: run npm run build first" >&2; exit 1; }
# the drill drives up.sh / down.sh with the same settings
for v in "${!CLUSTER_@}"; do export "${v?}"; done
exec node --import tsx test/drills/cluster.ts
