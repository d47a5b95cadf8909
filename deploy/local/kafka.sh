#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller) without Docker,
# from the kafka_2.13 jars on Maven Central. Needs Java 17+ and Maven.
#
#   deploy/local/kafka.sh install   # download the broker classpath once (cached)
#   deploy/local/kafka.sh start     # format a fresh data dir, start, wait until ready
#   deploy/local/kafka.sh stop
#   deploy/local/kafka.sh status    # exit 0 if running
#
# Env: KAFKA_VERSION (default below), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
#      KAFKA_DATA_DIR (default /tmp/secondment-kafka-<port>; its data/ is wiped on every start),
#      KAFKA_START_TIMEOUT (seconds, 120), KAFKA_HEAP_OPTS, KAFKA_AUTO_CREATE_TOPICS (false).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# 4.4.0: newest release proven against aiokafka 0.14.0 (see docs/adr/0002-*.md).
VERSION="${KAFKA_VERSION:-4.4.0}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/secondment/kafka-${VERSION}"
LIBS="${CACHE_DIR}/libs"
DATA_DIR="${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/secondment-kafka-${PORT}}"
PID_FILE="${DATA_DIR}/kafka.pid"
LOG_FILE="${DATA_DIR}/kafka.log"
TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

die() { echo "kafka.sh: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {  # prints the broker pid if our broker process is alive
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka\.Kafka' "/proc/$pid/cmdline" \
    2>/dev/null && echo "$pid"
}

running_version() { cat "${DATA_DIR}/version" 2>/dev/null || echo "$VERSION"; }

cmd_install() {
  if [[ -f "${LIBS}/.complete" && -f "${LIBS}/kafka_2.13-${VERSION}.jar" ]]; then
    echo "Kafka ${VERSION} jars already in ${LIBS}"; return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required: apt-get install -y maven"
  command -v java >/dev/null || die "Java 17+ is required: apt-get install -y openjdk-17-jre-headless"
  mkdir -p "$CACHE_DIR"
  rm -rf "${LIBS}.tmp"
  local start=$SECONDS
  # Copy into a temp dir and rename, so an interrupted download never looks complete.
  # (sed strips the ANSI resets Debian's Maven 3.8 prints even in batch mode; pipefail keeps
  # mvn's exit status.)
  mvn -B -q -f "${HERE}/kafka/pom.xml" "${DEP_PLUGIN}:copy-dependencies" \
    -Dkafka.version="$VERSION" -DincludeScope=runtime -DoutputDirectory="${LIBS}.tmp" \
    2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  [[ -f "${LIBS}.tmp/kafka_2.13-${VERSION}.jar" ]] || die "mvn did not produce kafka_2.13-${VERSION}.jar"
  touch "${LIBS}.tmp/.complete"
  rm -rf "$LIBS" && mv "${LIBS}.tmp" "$LIBS"
  echo "Kafka ${VERSION} jars installed in ${LIBS} ($((SECONDS - start))s)"
}

java_opts() {
  # Word-splitting of KAFKA_HEAP_OPTS is intended.
  # shellcheck disable=SC2206
  local heap=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m})
  printf '%s\n' "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=${HERE}/kafka/log4j2.properties" "-Dkafka.logs.dir=${DATA_DIR}" \
    -cp "${LIBS}/*"
}

cmd_start() {
  local pid
  if pid="$(running_pid)" && port_open "$PORT"; then
    echo "Kafka already running (pid ${pid}, data ${DATA_DIR})"
    echo "Apache Kafka $(running_version) started on 127.0.0.1:${PORT}"
    return 0
  fi
  port_open "$PORT" && die "port ${PORT} is in use by another process"
  [[ -f "${LIBS}/.complete" ]] || cmd_install
  cmd_stop >/dev/null 2>&1 || true
  # Fresh log dir every start (tests expect an empty cluster); only our own files are removed,
  # in case KAFKA_DATA_DIR points somewhere shared.
  mkdir -p "$DATA_DIR"
  rm -rf "${DATA_DIR}/data" "${DATA_DIR}/version" "$LOG_FILE" "${DATA_DIR}/format.log"
  echo "$VERSION" > "${DATA_DIR}/version"
  sed -e "s|@PORT@|${PORT}|g" -e "s|@CONTROLLER_PORT@|${CONTROLLER_PORT}|g" \
      -e "s|@LOG_DIR@|${DATA_DIR}/data|g" \
      -e "s|^auto.create.topics.enable=.*|auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}|" \
      "${HERE}/kafka/server.properties.template" > "${DATA_DIR}/server.properties"
  local opts; mapfile -t opts < <(java_opts)
  # Cluster id: URL-safe base64 of 16 random bytes, no padding, must not start with '-'.
  local cid="-"
  while [[ "$cid" == -* ]]; do
    cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  local t0=$SECONDS
  java "${opts[@]}" kafka.tools.StorageTool format --standalone -t "$cid" \
    -c "${DATA_DIR}/server.properties" > "${DATA_DIR}/format.log" 2>&1 \
    || { cat "${DATA_DIR}/format.log" >&2; die "storage format failed"; }
  # setsid: the broker survives the caller's terminal/process group (CI step, pytest).
  # In a non-interactive shell setsid execs in place, so $! is the JVM's pid.
  nohup setsid java "${opts[@]}" kafka.Kafka "${DATA_DIR}/server.properties" \
    > "$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  local deadline=$((SECONDS + TIMEOUT))
  until grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$PORT"; do
    if ! running_pid >/dev/null; then
      tail -n 40 "$LOG_FILE" >&2; die "broker exited during startup (log: ${LOG_FILE})"
    fi
    if (( SECONDS >= deadline )); then
      tail -n 40 "$LOG_FILE" >&2; cmd_stop >/dev/null 2>&1 || true
      die "broker not ready after ${TIMEOUT}s (log: ${LOG_FILE})"
    fi
    sleep 0.5
  done
  echo "Kafka ready in $((SECONDS - t0))s (pid $(cat "$PID_FILE"), data ${DATA_DIR}, log ${LOG_FILE})"
  echo "Apache Kafka ${VERSION} started on 127.0.0.1:${PORT}"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then echo "Kafka on port ${PORT} is not running"; return 0; fi
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$PID_FILE"
  echo "Kafka on port ${PORT} stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)" && port_open "$PORT"; then
    echo "Apache Kafka $(running_version) running on 127.0.0.1:${PORT} (pid ${pid}, data ${DATA_DIR})"
  else
    echo "Kafka on port ${PORT} is not running"; return 1
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
