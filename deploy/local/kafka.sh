#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller) without Docker,
# from the kafka_2.13 jars on Maven Central. Needs Java 17+ and Maven.
#
#   deploy/local/kafka.sh install   # download the broker classpath once (cached)
#   deploy/local/kafka.sh start     # format a fresh data dir, start, wait until ready
#   deploy/local/kafka.sh stop
#   deploy/local/kafka.sh status    # exit 0 if running
#   deploy/local/kafka.sh install-tools  # also the admin tools (ACLs, SCRAM users, topics)
#   deploy/local/kafka.sh classpath      # print the tools' Java classpath (deploy/kafka/acls.sh)
#
# A cluster of N nodes (each a KRaft broker and controller; 3 voters survive the loss of one):
#   deploy/local/kafka.sh --brokers 3 start       # format and start nodes 1..3, wait for all
#   deploy/local/kafka.sh --brokers 3 stop|status
#   deploy/local/kafka.sh --brokers 3 kill-node 2   # SIGKILL node 2 (fault injection)
#   deploy/local/kafka.sh --brokers 3 start-node 2  # start node 2 again on its data (no format)
#   deploy/local/kafka.sh --brokers 3 bootstrap     # print host:port,host:port,... of the nodes
# Node i listens on KAFKA_PORT + 2(i-1) (controller: that + 1), keeps its data in
# <data dir>/node-<i>; topics default to replication factor N (at most 3) with
# min.insync.replicas N-1 (2 of 3), internal topics likewise. `start` wipes the data, as for
# one broker; `start-node` keeps it (a restart after a crash).
# With one broker (the default) `kill-node 1` / `start-node 1` do the same for the single node.
#
# Env: KAFKA_VERSION (default below), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
#      KAFKA_DATA_DIR (default /tmp/secondment-kafka-<port>; its data/ is wiped on every start),
#      KAFKA_START_TIMEOUT (seconds, 120), KAFKA_HEAP_OPTS, KAFKA_AUTO_CREATE_TOPICS (false).
#
# KAFKA_SECURE=1 runs a broker that authenticates and authorizes (docs/adr/0003-*.md): one
# SASL_PLAINTEXT listener (SCRAM-SHA-512) on KAFKA_PORT (default 19192; controller 19193),
# StandardAuthorizer denying by default, super user `admin`; data in
# /tmp/secondment-kafka-secure-<port>. SCRAM users are created at format time: admin
# (KAFKA_ADMIN_PASSWORD, default admin-secret) and KAFKA_SCRAM_USERS, space-separated
# name:password (default: the three services, needs:needs-secret placement:placement-secret
# reporting:reporting-secret). <data dir>/admin.properties is admin's client config for the
# tools. Grant ACLs with deploy/kafka/acls.sh. Pass KAFKA_SECURE=1 to stop/status as well.
set -euo pipefail

BROKERS=1
if [[ "${1:-}" == "--brokers" ]]; then
  BROKERS="${2:?--brokers needs a number}"; shift 2
fi
[[ "$BROKERS" =~ ^[1-9]$ ]] || { echo "kafka.sh: --brokers must be 1 to 9" >&2; exit 2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# 4.4.0: newest release proven against aiokafka 0.14.0 (see docs/adr/0002-*.md).
VERSION="${KAFKA_VERSION:-4.4.0}"
case "${KAFKA_SECURE:-0}" in
  1|true|yes) SECURE=1 ;;
  0|false|no|"") SECURE=0 ;;
  *) echo "kafka.sh: KAFKA_SECURE must be 1 or 0, not ${KAFKA_SECURE}" >&2; exit 2 ;;
esac
if (( SECURE )); then
  PORT="${KAFKA_PORT:-19192}"
  DATA_DIR="${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/secondment-kafka-secure-${PORT}}"
else
  PORT="${KAFKA_PORT:-9092}"
  DATA_DIR="${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/secondment-kafka-${PORT}}"
fi
(( BROKERS == 1 || ! SECURE )) || { echo "kafka.sh: --brokers needs KAFKA_SECURE=0" >&2; exit 2; }
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/secondment/kafka-${VERSION}"
LIBS="${CACHE_DIR}/libs"
TOOLS="${CACHE_DIR}/tools"
ADMIN_PASSWORD="${KAFKA_ADMIN_PASSWORD:-admin-secret}"
SCRAM_USERS="${KAFKA_SCRAM_USERS:-needs:needs-secret placement:placement-secret reporting:reporting-secret}"
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

cmd_install_tools() {
  if [[ -f "${TOOLS}/.complete" && -f "${TOOLS}/kafka-tools-${VERSION}.jar" ]]; then
    echo "Kafka ${VERSION} tools already in ${TOOLS}"; return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required: apt-get install -y maven"
  mkdir -p "$CACHE_DIR"
  rm -rf "${TOOLS}.tmp"
  # Only kafka-tools itself: it runs on the broker's classpath (LIBS), which has its needs.
  mvn -B -q -f "${HERE}/kafka/tools-pom.xml" "${DEP_PLUGIN}:copy-dependencies" \
    -Dkafka.version="$VERSION" -DexcludeTransitive=true -DoutputDirectory="${TOOLS}.tmp" \
    2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  [[ -f "${TOOLS}.tmp/kafka-tools-${VERSION}.jar" ]] || die "mvn did not produce kafka-tools-${VERSION}.jar"
  touch "${TOOLS}.tmp/.complete"
  rm -rf "$TOOLS" && mv "${TOOLS}.tmp" "$TOOLS"
  echo "Kafka ${VERSION} tools installed in ${TOOLS}"
}

cmd_classpath() {
  [[ -f "${LIBS}/.complete" && -f "${TOOLS}/.complete" ]] \
    || die "run '$0 install' and '$0 install-tools' first"
  echo "${LIBS}/*:${TOOLS}/*"
}

check_secret() {  # name value: SCRAM and JAAS syntax allow no quotes, commas or brackets
  [[ "$2" =~ ^[A-Za-z0-9._~+-]+$ ]] || die "$1 may hold only letters, digits and ._~+-"
}

render_config() {  # the broker's server.properties, on stdout
  local base="${HERE}/kafka/server.properties.template"
  local subst=(-e "s|@PORT@|${PORT}|g" -e "s|@CONTROLLER_PORT@|${CONTROLLER_PORT}|g"
    -e "s|@LOG_DIR@|${DATA_DIR}/data|g"
    -e "s|^auto.create.topics.enable=.*|auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}|")
  if (( ! SECURE )); then
    sed "${subst[@]}" "$base"
    return
  fi
  local overlay="${HERE}/kafka/sasl.properties.template"
  # The overlay's keys (listeners) replace the base's, so that each key appears once.
  awk -F= 'NR == FNR { if ($0 ~ /^[a-z]/) keys[$1] = 1; next } !($1 in keys)' "$overlay" "$base" \
    | sed "${subst[@]}"
  sed "${subst[@]}" -e "s|@ADMIN_PASSWORD@|${ADMIN_PASSWORD}|g" "$overlay"
}

java_opts() {  # [logs dir]
  # Word-splitting of KAFKA_HEAP_OPTS is intended.
  # shellcheck disable=SC2206
  local heap=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m})
  printf '%s\n' "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=${HERE}/kafka/log4j2.properties" "-Dkafka.logs.dir=${1:-$DATA_DIR}" \
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
  local scram=()
  if (( SECURE )); then
    [[ -f "${TOOLS}/.complete" ]] || cmd_install_tools  # deploy/kafka/acls.sh needs them
    check_secret KAFKA_ADMIN_PASSWORD "$ADMIN_PASSWORD"
    scram+=(--add-scram "SCRAM-SHA-512=[name=admin,password=${ADMIN_PASSWORD}]")
    local user name
    for user in $SCRAM_USERS; do
      name="${user%%:*}"
      [[ "$user" == *:* && "$name" =~ ^[A-Za-z0-9._-]+$ ]] \
        || die "KAFKA_SCRAM_USERS: '${user%%:*}' is not name:password"
      check_secret "the password of ${name}" "${user#*:}"
      scram+=(--add-scram "SCRAM-SHA-512=[name=${name},password=${user#*:}]")
    done
  fi
  cmd_stop >/dev/null 2>&1 || true
  # Fresh log dir every start (tests expect an empty cluster); only our own files are removed,
  # in case KAFKA_DATA_DIR points somewhere shared.
  mkdir -p "$DATA_DIR"
  rm -rf "${DATA_DIR}/data" "${DATA_DIR}/version" "$LOG_FILE" "${DATA_DIR}/format.log" \
    "${DATA_DIR}/admin.properties"
  echo "$VERSION" > "${DATA_DIR}/version"
  # The secure broker's config, format log (salted SCRAM keys) and client config hold secrets.
  if (( SECURE )); then chmod 700 "$DATA_DIR"; fi
  render_config > "${DATA_DIR}/server.properties"
  if (( SECURE )); then
    cat > "${DATA_DIR}/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${ADMIN_PASSWORD}";
EOF
  fi
  local opts; mapfile -t opts < <(java_opts)
  # Cluster id: URL-safe base64 of 16 random bytes, no padding, must not start with '-'.
  local cid="-"
  while [[ "$cid" == -* ]]; do
    cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  local t0=$SECONDS
  java "${opts[@]}" kafka.tools.StorageTool format --standalone -t "$cid" \
    -c "${DATA_DIR}/server.properties" "${scram[@]}" > "${DATA_DIR}/format.log" 2>&1 \
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
  if (( SECURE )); then
    echo "SASL_PLAINTEXT, SCRAM-SHA-512; ACLs deny by default; admin's client config: ${DATA_DIR}/admin.properties"
  fi
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


# ------------------------------------------------------------------ nodes (one or a cluster)

node_dir() { if (( BROKERS == 1 )); then echo "$DATA_DIR"; else echo "${DATA_DIR}/node-$1"; fi; }
node_port() { echo $((PORT + 2 * ($1 - 1))); }
node_cport() { if (( BROKERS == 1 )); then echo "$CONTROLLER_PORT"; else echo $(($(node_port "$1") + 1)); fi; }

node_pid() {  # prints node i's pid if its broker process is alive
  local f; f="$(node_dir "$1")/kafka.pid"
  [[ -f "$f" ]] || return 1
  local pid; pid="$(cat "$f")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka\.Kafka' "/proc/$pid/cmdline" \
    2>/dev/null && echo "$pid"
}

render_node_config() {  # node i's server.properties in a cluster, on stdout
  local i="$1" dir port cport voters="" j rf min
  dir="$(node_dir "$i")"; port="$(node_port "$i")"; cport="$(node_cport "$i")"
  for j in $(seq 1 "$BROKERS"); do voters+="${voters:+,}${j}@127.0.0.1:$(node_cport "$j")"; done
  rf=$(( BROKERS < 3 ? BROKERS : 3 )); min=$(( rf > 1 ? rf - 1 : 1 ))
  sed -e "s|@PORT@|${port}|g" -e "s|@CONTROLLER_PORT@|${cport}|g" -e "s|@LOG_DIR@|${dir}/data|g" \
    -e "s|^auto.create.topics.enable=.*|auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}|" \
    -e "s|^node.id=.*|node.id=${i}|" \
    -e "s|^controller.quorum.bootstrap.servers=.*|controller.quorum.voters=${voters}|" \
    -e "s|^default.replication.factor=.*|default.replication.factor=${rf}|" \
    -e "s|^min.insync.replicas=.*|min.insync.replicas=${min}|" \
    -e "s|^offsets.topic.replication.factor=.*|offsets.topic.replication.factor=${rf}|" \
    -e "s|^transaction.state.log.replication.factor=.*|transaction.state.log.replication.factor=${rf}|" \
    -e "s|^transaction.state.log.min.isr=.*|transaction.state.log.min.isr=${min}|" \
    -e "s|^share.coordinator.state.topic.replication.factor=.*|share.coordinator.state.topic.replication.factor=${rf}|" \
    -e "s|^share.coordinator.state.topic.min.isr=.*|share.coordinator.state.topic.min.isr=${min}|" \
    "${HERE}/kafka/server.properties.template"
}

launch_node() {  # start node i on its formatted data dir, in the background
  local dir opts; dir="$(node_dir "$1")"
  mapfile -t opts < <(java_opts "$dir")
  nohup setsid java "${opts[@]}" kafka.Kafka "${dir}/server.properties" \
    > "${dir}/kafka.log" 2>&1 < /dev/null &
  echo $! > "${dir}/kafka.pid"
}

wait_node() {  # until node i says it started and answers
  local dir port deadline=$((SECONDS + TIMEOUT)); dir="$(node_dir "$1")"; port="$(node_port "$1")"
  until grep -q 'Kafka Server started' "${dir}/kafka.log" 2>/dev/null && port_open "$port"; do
    node_pid "$1" >/dev/null || { tail -n 40 "${dir}/kafka.log" >&2; die "node $1 exited during startup (log: ${dir}/kafka.log)"; }
    (( SECONDS < deadline )) || { tail -n 40 "${dir}/kafka.log" >&2; die "node $1 not ready after ${TIMEOUT}s"; }
    sleep 0.3
  done
}

cmd_bootstrap() {
  local i out=""
  for i in $(seq 1 "$BROKERS"); do out+="${out:+,}127.0.0.1:$(node_port "$i")"; done
  echo "$out"
}

cmd_kill_node() {  # SIGKILL: no clean shutdown, as a crash
  local i="${1:?kill-node needs a node number}" pid
  if pid="$(node_pid "$i")"; then kill -9 "$pid"; echo "node ${i} (pid ${pid}) killed"
  else echo "node ${i} is not running"; fi
}

cmd_start_node() {  # start a node again on the data it has (after kill-node)
  local i="${1:?start-node needs a node number}" dir; dir="$(node_dir "$i")"
  [[ -f "${dir}/server.properties" && -d "${dir}/data" ]] || die "node ${i} was never started"
  if node_pid "$i" >/dev/null; then echo "node ${i} already running"; return 0; fi
  local t0=$SECONDS
  launch_node "$i"; wait_node "$i"
  echo "node ${i} ready in $((SECONDS - t0))s on 127.0.0.1:$(node_port "$i")"
}

cluster_start() {
  local i running=0
  for i in $(seq 1 "$BROKERS"); do node_pid "$i" >/dev/null && running=$((running + 1)); done
  if (( running == BROKERS )); then
    echo "Kafka cluster already running (${BROKERS} nodes, data ${DATA_DIR})"
    echo "Apache Kafka $(running_version) cluster of ${BROKERS} started on $(cmd_bootstrap)"
    return 0
  fi
  [[ -f "${LIBS}/.complete" ]] || cmd_install
  cluster_stop >/dev/null 2>&1 || true
  for i in $(seq 1 "$BROKERS"); do
    port_open "$(node_port "$i")" && die "port $(node_port "$i") is in use by another process"
  done
  mkdir -p "$DATA_DIR"
  echo "$VERSION" > "${DATA_DIR}/version"
  local cid="-" t0=$SECONDS dir opts
  while [[ "$cid" == -* ]]; do
    cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  for i in $(seq 1 "$BROKERS"); do
    dir="$(node_dir "$i")"
    rm -rf "$dir"; mkdir -p "$dir"
    render_node_config "$i" > "${dir}/server.properties"
    mapfile -t opts < <(java_opts "$dir")
    java "${opts[@]}" kafka.tools.StorageTool format -t "$cid" -c "${dir}/server.properties" \
      > "${dir}/format.log" 2>&1 || { cat "${dir}/format.log" >&2; die "storage format of node ${i} failed"; }
  done
  for i in $(seq 1 "$BROKERS"); do launch_node "$i"; done
  for i in $(seq 1 "$BROKERS"); do wait_node "$i"; done
  echo "Kafka cluster of ${BROKERS} ready in $((SECONDS - t0))s (data ${DATA_DIR})"
  echo "Apache Kafka ${VERSION} cluster of ${BROKERS} started on $(cmd_bootstrap)"
}

cluster_stop() {
  local i pid pids=()
  for i in $(seq 1 "$BROKERS"); do
    if pid="$(node_pid "$i")"; then kill "$pid"; pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  done
  for i in $(seq 1 "$BROKERS"); do rm -f "$(node_dir "$i")/kafka.pid"; done
  echo "Kafka cluster on $(cmd_bootstrap) stopped"
}

cluster_status() {
  local i pid down=0
  for i in $(seq 1 "$BROKERS"); do
    if pid="$(node_pid "$i")" && port_open "$(node_port "$i")"; then
      echo "node ${i}: running on 127.0.0.1:$(node_port "$i") (pid ${pid})"
    else
      echo "node ${i}: not running"; down=$((down + 1))
    fi
  done
  (( down == 0 )) && echo "Apache Kafka $(running_version) cluster of ${BROKERS} running on $(cmd_bootstrap)"
  (( down == 0 ))
}

if (( BROKERS > 1 )); then
  case "${1:-}" in
    install) cmd_install ;;
    start) cluster_start ;;
    stop) cluster_stop ;;
    status) cluster_status ;;
    bootstrap) cmd_bootstrap ;;
    kill-node) cmd_kill_node "${2:-}" ;;
    start-node) cmd_start_node "${2:-}" ;;
    *) echo "usage: $0 --brokers N install|start|stop|status|bootstrap|kill-node I|start-node I" >&2; exit 2 ;;
  esac
  exit
fi

case "${1:-}" in
  install) cmd_install ;;
  install-tools) cmd_install_tools ;;
  classpath) cmd_classpath ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bootstrap) cmd_bootstrap ;;
  kill-node) cmd_kill_node "${2:-1}" ;;
  start-node) cmd_start_node "${2:-1}" ;;
  *) echo "usage: $0 [--brokers N] install|install-tools|classpath|start|stop|status|bootstrap|kill-node|start-node" >&2; exit 2 ;;
esac
