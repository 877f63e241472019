#!/usr/bin/env bash
# What `npm test` needs on a Debian 12 machine, made present: the programs the tests run (installed
# from Debian's packages when missing, with no daemon of theirs left running) and RabbitMQ and Redis
# answering on 127.0.0.1. Prints one line per thing it does and nothing at all when everything is
# already there. Needs root (or sudo) only when something has to be installed. Reads no stdin.
set -euo pipefail

log() { printf '[test-env] %s\n' "$*"; }

# ---- programs -------------------------------------------------------------------------------------
# One line per program a test or benchmark runs: command, Debian package providing it, then packages
# it needs to work that its own dependencies do not bring (swaks: TLS, AUTH CRAM-MD5, IPv6).
REQUIREMENTS=(
  'swaks swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl libio-socket-inet6-perl'
  'openssl openssl'
  'perl perl'
  'python3 python3 python3-dkim python3-authres python3-pika python3-jsonschema'
  'smtp-source postfix'
  'smtp-sink postfix'
  'dnsmasq dnsmasq-base'
  'haproxy haproxy'
  'socat socat'
  'docker-compose docker-compose'
  'slapd slapd'
  'slapadd slapd'
  'slappasswd slapd'
  'ldapsearch ldap-utils'
  'freeradius freeradius'
  'redis-server redis-server'
  'rabbitmq-server rabbitmq-server'
  'rabbitmqctl rabbitmq-server'
  'spamd spamd spamassassin'
  'spamc spamc'
  'chromium chromium'
)
# Packages whose install could start a system daemon (ports 25, 389, 1812, ...) and the name of its
# process: kept stopped, the tests start their own on free ports.
DAEMONS=('postfix master' 'slapd slapd' 'freeradius freeradius' 'haproxy haproxy' 'spamd spamd')

# Debian puts daemons in sbin, which a non-root PATH lacks.
have() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

missing=()
extras=()
add_missing() {
  local p
  for p in "$@"; do
    [[ " ${missing[*]-} " == *" $p "* ]] || missing+=("$p")
  done
}
for line in "${REQUIREMENTS[@]}"; do
  read -r cmd pkg more <<<"$line"
  if ! have "$cmd"; then
    add_missing "$pkg"
  fi
  if [ -n "${more-}" ]; then
    read -r -a more_packages <<<"$more"
    extras+=("${more_packages[@]}")
  fi
done
# The helper packages are no commands: ask dpkg about them, all in one call (a package dpkg has
# never heard of prints no line at all).
if [ ${#extras[@]} -gt 0 ]; then
  installed=" $({ dpkg-query -W -f='${db:Status-Abbrev}=${Package}\n' "${extras[@]}" 2>/dev/null || true; } |
    sed -n 's/^ii *=//p' | tr '\n' ' ') "
  for pkg in "${extras[@]}"; do
    [[ "$installed" == *" $pkg "* ]] || add_missing "$pkg"
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if have sudo && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      log "missing Debian packages: ${missing[*]}"
      log "run as root (apt-get install needs it): sudo bash scripts/test-env.sh"
      exit 1
    fi
  fi
  log "installing ${missing[*]}"
  started=$SECONDS
  apt_log=$(mktemp)
  policy=/usr/sbin/policy-rc.d
  saved_policy=$(mktemp)
  had_policy=no
  [ -e "$policy" ] && had_policy=yes && "${SUDO[@]}" cp -p "$policy" "$saved_policy"
  restore_policy() {
    if [ "$had_policy" = yes ]; then
      "${SUDO[@]}" cp -p "$saved_policy" "$policy"
    else
      "${SUDO[@]}" rm -f "$policy"
    fi
    rm -f "$saved_policy" "$apt_log"
  }
  trap restore_policy EXIT
  # No daemon starts while packages install: exit 101 = "action forbidden" to invoke-rc.d and
  # deb-systemd-invoke. Tests start their own slapd, freeradius, haproxy and dnsmasq on free ports.
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  # Answers for the packages that ask: postfix only for smtp-source/smtp-sink (no mail system),
  # slapd with no directory of its own (the tests write their own slapd.conf).
  "${SUDO[@]}" debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
slapd slapd/no_configuration boolean true
EOF
  apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -y -q
    -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  if ! "${apt[@]}" update >"$apt_log" 2>&1 ||
    ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 </dev/null; then
    tail -n 30 "$apt_log" >&2
    log "apt-get failed"
    exit 1
  fi
  for line in "${DAEMONS[@]}"; do
    read -r daemon process <<<"$line"
    [[ " ${missing[*]} " == *" $daemon "* ]] || continue
    if have systemctl && [ -d /run/systemd/system ]; then
      "${SUDO[@]}" systemctl disable --now "$daemon" >/dev/null 2>&1 || true
    fi
    if pgrep -x "$process" >/dev/null && [ -x "/etc/init.d/$daemon" ]; then
      log "stopping the system $daemon that the package started"
      "${SUDO[@]}" "/etc/init.d/$daemon" stop >/dev/null 2>&1 || true
    fi
  done
  restore_policy
  trap - EXIT
  for line in "${REQUIREMENTS[@]}"; do
    read -r cmd _ <<<"$line"
    have "$cmd" || { log "still missing after the install: $cmd"; exit 1; }
  done
  if ! swaks --support 2>&1 | grep -q '^=== TLS supported'; then
    log "swaks has no TLS support: $(swaks --support 2>&1 | grep TLS)"
    exit 1
  fi
  log "installed in $((SECONDS - started)) s"
fi

# ---- services -------------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  return 1
}

if ! port_open 5672; then
  log "starting RabbitMQ"
  rabbitmq-server -detached </dev/null >/dev/null 2>&1 || true
  timeout 180 rabbitmqctl await_startup --timeout 170 </dev/null >/dev/null 2>&1 || true
  wait_port 5672 60 || { log "RabbitMQ does not answer on 127.0.0.1:5672"; exit 1; }
fi
if ! port_open 6379; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no </dev/null >/dev/null
  wait_port 6379 30 || { log "Redis does not answer on 127.0.0.1:6379"; exit 1; }
fi
# PostgreSQL 15 for the rule database tests (packages/rules): the system cluster, trust auth on 127.0.0.1.
if ! port_open 5432; then
  log "starting PostgreSQL"
  if have pg_ctlcluster; then
    pg_ctlcluster 15 main start </dev/null >/dev/null 2>&1 || service postgresql start </dev/null >/dev/null 2>&1 || true
  else
    service postgresql start </dev/null >/dev/null 2>&1 || true
  fi
  wait_port 5432 30 || { log "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
fi
