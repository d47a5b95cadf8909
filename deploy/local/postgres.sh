#!/usr/bin/env bash
# Run a real PostgreSQL server for tests without Docker, as a dedicated Debian cluster.
# PostgreSQL refuses to run as root, so Debian's cluster tools (postgresql-common) create it
# owned by the `postgres` OS user; this script is meant to run as root (or as postgres).
#
#   deploy/local/postgres.sh install   # apt-get install postgresql, only if binaries missing
#   deploy/local/postgres.sh start     # create cluster if needed, start, wait, print the DSN
#   deploy/local/postgres.sh stop
#   deploy/local/postgres.sh status    # exit 0 if accepting connections
#   deploy/local/postgres.sh restart fast|immediate   # fault injection: stop that way, start
#
# Env: PG_PORT (55432), PG_VERSION (newest installed major), PG_CLUSTER
#      (secondment, or secondment_<port> for a non-default port), PG_START_TIMEOUT (60),
#      PG_DURABLE=1: a new cluster keeps fsync and synchronous_commit on (the fault-injection
#      suite: with synchronous_commit=off an immediate shutdown loses acknowledged commits).
set -euo pipefail

PORT="${PG_PORT:-55432}"
CLUSTER="${PG_CLUSTER:-secondment}"
[[ -z "${PG_CLUSTER:-}" && "$PORT" != 55432 ]] && CLUSTER="secondment_${PORT}"
TIMEOUT="${PG_START_TIMEOUT:-60}"
DSN="postgresql://postgres:postgres@127.0.0.1:${PORT}/postgres"

die() { echo "postgres.sh: $*" >&2; exit 1; }

pg_major() {
  if [[ -n "${PG_VERSION:-}" ]]; then echo "$PG_VERSION"; return; fi
  local d
  d="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null \
       | sort -n | tail -n 1)"
  [[ -n "$d" && -x "/usr/lib/postgresql/${d}/bin/postgres" ]] && echo "$d"
}

as_postgres() {  # run a command as the postgres OS user
  if [[ "$(id -un)" == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi
}

ready() { "/usr/lib/postgresql/$1/bin/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

cmd_install() {
  if [[ -n "$(pg_major || true)" ]] && command -v pg_createcluster >/dev/null; then
    echo "PostgreSQL $(pg_major) binaries present"; return 0
  fi
  [[ "$(id -u)" == 0 ]] || die "PostgreSQL is missing; as root run: apt-get install -y postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-common
  echo "PostgreSQL $(pg_major) installed"
}

cmd_start() {
  [[ -n "$(pg_major || true)" ]] || cmd_install
  local ver; ver="$(pg_major)"
  if ! pg_lsclusters -h | awk -v v="$ver" -v c="$CLUSTER" '$1 == v && $2 == c {f=1} END {exit !f}'
  then
    # Test-only tuning: durability off (fast), enough connections for 3 services + tests.
    # listen_addresses stays Debian's default, localhost.
    # --start-conf=manual: not started by the distribution's boot scripts.
    local durability=(-o fsync=off -o synchronous_commit=off -o full_page_writes=off)
    if [[ "${PG_DURABLE:-0}" == 1 ]]; then
      durability=(-o fsync=on -o synchronous_commit=on -o full_page_writes=on)
    fi
    pg_createcluster "$ver" "$CLUSTER" -p "$PORT" --start-conf=manual \
      "${durability[@]}" -o max_connections=200 >/dev/null
  elif [[ "${PG_DURABLE:-0}" == 1 ]]; then
    # A cluster made earlier on this port for tests (durability off) must not serve the
    # fault suite as it is: its immediate restarts would lose acknowledged commits.
    local changed=0 setting
    for setting in fsync synchronous_commit full_page_writes; do
      if [[ "$(pg_conftool -s "$ver" "$CLUSTER" show "$setting" 2>/dev/null)" != on ]]; then
        pg_conftool "$ver" "$CLUSTER" set "$setting" on; changed=1
      fi
    done
    if (( changed )) && ready "$ver"; then
      pg_ctlcluster "$ver" "$CLUSTER" restart -m fast
    fi
  fi
  local t0=$SECONDS
  if ! ready "$ver"; then
    # pg_ctlcluster refuses to start a cluster whose port another server holds.
    pg_ctlcluster "$ver" "$CLUSTER" start
    local deadline=$((SECONDS + TIMEOUT))
    until ready "$ver"; do
      (( SECONDS < deadline )) || die "PostgreSQL not ready after ${TIMEOUT}s: $(pg_lsclusters)"
      sleep 0.3
    done
  fi
  # Password login over TCP (pg_hba.conf of Debian clusters: scram-sha-256 on 127.0.0.1).
  as_postgres psql -q -X -p "$PORT" -d postgres -v ON_ERROR_STOP=1 \
    -c "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null
  echo "PostgreSQL ${ver} (cluster ${CLUSTER}) ready in $((SECONDS - t0))s: ${DSN}"
}

cmd_stop() {
  local ver; ver="$(pg_major)" || die "PostgreSQL is not installed"
  if pg_ctlcluster "$ver" "$CLUSTER" status >/dev/null 2>&1; then
    pg_ctlcluster "$ver" "$CLUSTER" stop -m fast
    echo "PostgreSQL cluster ${ver}/${CLUSTER} stopped"
  else
    echo "PostgreSQL cluster ${ver}/${CLUSTER} is not running"
  fi
}

cmd_status() {
  local ver; ver="$(pg_major)" || die "PostgreSQL is not installed"
  if ready "$ver"; then echo "PostgreSQL ${ver} (cluster ${CLUSTER}) running: ${DSN}"
  else echo "PostgreSQL on port ${PORT} is not running"; return 1; fi
}

cmd_restart() {  # fast: clients disconnected, clean; immediate: no checkpoint, crash recovery
  local mode="${1:-fast}" ver; ver="$(pg_major)" || die "PostgreSQL is not installed"
  [[ "$mode" == fast || "$mode" == immediate ]] || die "restart takes fast or immediate"
  pg_ctlcluster "$ver" "$CLUSTER" stop -m "$mode"
  pg_ctlcluster "$ver" "$CLUSTER" start
  local deadline=$((SECONDS + TIMEOUT))
  until ready "$ver"; do
    (( SECONDS < deadline )) || die "PostgreSQL not ready after ${TIMEOUT}s"
    sleep 0.2
  done
  echo "PostgreSQL cluster ${ver}/${CLUSTER} restarted (${mode})"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_restart "${2:-fast}" ;;
  *) echo "usage: $0 install|start|stop|status|restart fast|immediate" >&2; exit 2 ;;
esac
