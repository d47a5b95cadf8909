#!/usr/bin/env bash
# Who may do what on the platform's Kafka (docs/adr/0003-kafka-security.md). The brokers deny
# whatever no ACL allows (StandardAuthorizer, allow.everyone.if.no.acl.found=false); this script
# grants each principal exactly its own topics and consumer groups, nothing else.
#
#   deploy/kafka/acls.sh services          # needs, placement, reporting (at every deployment)
#   deploy/kafka/acls.sh agency CODE...    # agency-CODE: its ACLs, and its two topics if missing
#   deploy/kafka/acls.sh subscriber NAME   # NAME may read the event topics in groups NAME…
#   deploy/kafka/acls.sh user NAME         # create NAME's SCRAM-SHA-512 credential, or change it
#   deploy/kafka/acls.sh list              # every ACL of the cluster
#
# Adding an agency (unit code CODE, e.g. SO_Y_TE) is `user agency-CODE` then `agency CODE`.
# Granting is idempotent: re-running changes nothing.
#
# Env:
#   KAFKA_BOOTSTRAP        the brokers (default 127.0.0.1:19192, `KAFKA_SECURE=1 kafka.sh start`)
#   KAFKA_COMMAND_CONFIG   client config of a super user (e.g. the admin.properties written by
#                          `KAFKA_SECURE=1 deploy/local/kafka.sh start`); or else
#   KAFKA_ADMIN_PASSWORD   (and KAFKA_ADMIN_USER, default admin): SASL_PLAINTEXT, SCRAM-SHA-512
#   KAFKA_USER_PASSWORD    `user`: the new password (default: a random one, printed once)
#   TOPIC_PREFIX           the services' *_TOPIC_PREFIX, in front of every topic and group name
#   KAFKA_PARTITIONS       partitions of an agency's new topics (3)
#   COMMAND_RETENTION_MS   how long an agency's topics keep a record (604800000: 7 days);
#                          commands name officials, so they are not kept for ever. Applied to
#                          new and existing topics alike (re-run `agency CODE` after a change)
#   KAFKA_ACLS_JOBS        tool runs at once (4)
#   KAFKA_HOME             where bin/kafka-acls.sh is (the apache/kafka image: /opt/kafka);
#                          without one, the jars of deploy/local/kafka.sh (Java 17 + Maven)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:19192}"
PREFIX="${TOPIC_PREFIX:-}"
PARTITIONS="${KAFKA_PARTITIONS:-3}"
RETENTION_MS="${COMMAND_RETENTION_MS:-604800000}"
[[ "$RETENTION_MS" =~ ^[1-9][0-9]*$ ]] || { echo "acls.sh: COMMAND_RETENTION_MS must be a positive number of ms" >&2; exit 1; }
MAX_JOBS="${KAFKA_ACLS_JOBS:-4}"
if [[ -z "${KAFKA_HOME:-}" && -x /opt/kafka/bin/kafka-acls.sh ]]; then KAFKA_HOME=/opt/kafka; fi

# The contract's topics (shared/contract/topics.py, docs/contract.md).
NEEDS="${PREFIX}secondment.needs.v1"
PLACEMENTS="${PREFIX}secondment.placements.v1"
COMMANDS="${PREFIX}secondment.commands.v1."  # + unit code: an agency writes, services read
REPLIES="${PREFIX}secondment.replies.v1."    # + unit code: services write, the agency reads

die() { echo "acls.sh: $*" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command_config() {
  if [[ -n "${KAFKA_COMMAND_CONFIG:-}" ]]; then
    [[ -r "$KAFKA_COMMAND_CONFIG" ]] || die "cannot read KAFKA_COMMAND_CONFIG=${KAFKA_COMMAND_CONFIG}"
    echo "$KAFKA_COMMAND_CONFIG"
    return
  fi
  [[ -n "${KAFKA_ADMIN_PASSWORD:-}" ]] || die "set KAFKA_COMMAND_CONFIG or KAFKA_ADMIN_PASSWORD"
  local file="${WORK}/admin.properties"
  (
    umask 077
    cat > "$file" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_ADMIN_USER:-admin}" password="${KAFKA_ADMIN_PASSWORD}";
EOF
  )
  echo "$file"
}
CONFIG="$(command_config)"

# The tools: the distribution's scripts, or their classes on deploy/local/kafka.sh's jars.
CLASSPATH_=""
ARCHIVE=""
if [[ -z "${KAFKA_HOME:-}" ]]; then
  command -v java >/dev/null || die "no KAFKA_HOME and no java: install Java 17+ or set KAFKA_HOME"
  "${HERE}/../local/kafka.sh" install >/dev/null
  "${HERE}/../local/kafka.sh" install-tools >/dev/null
  CLASSPATH_="$("${HERE}/../local/kafka.sh" classpath)"
  # A class-data archive of the tools' classes (made by the first run) halves each JVM's
  # start; the JVM ignores it if the JDK or the jars changed.
  tools_dir="${CLASSPATH_##*:}"
  ARCHIVE="${tools_dir%/\*}/tools-$(java -version 2>&1 | head -n 1 | tr -dc 'A-Za-z0-9._-').jsa"
fi

tool() {  # acls|configs|topics ARGS...: one run of the Kafka tool, as the super user
  local name="$1"; shift
  if [[ -n "${KAFKA_HOME:-}" ]]; then
    "${KAFKA_HOME}/bin/kafka-${name}.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" "$@"
    return
  fi
  local class cds=()
  case "$name" in
    acls) class=AclCommand ;; configs) class=ConfigCommand ;; topics) class=TopicCommand ;;
  esac
  if [[ -f "$ARCHIVE" ]]; then cds=("-XX:SharedArchiveFile=${ARCHIVE}"); fi
  # Short-lived JVMs: C1 only and the serial collector start fastest.
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true "${cds[@]}" \
    "-Dlog4j2.configurationFile=${HERE}/../local/kafka/log4j2.properties" -cp "$CLASSPATH_" \
    "org.apache.kafka.tools.${class}" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" "$@"
}

make_archive() {  # before the parallel runs: the first local run records the classes it loads
  [[ -n "$ARCHIVE" && ! -f "$ARCHIVE" ]] || return 0
  local tmp="${ARCHIVE}.$$"
  if java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "-XX:ArchiveClassesAtExit=${tmp}" \
      "-Dlog4j2.configurationFile=${HERE}/../local/kafka/log4j2.properties" -cp "$CLASSPATH_" \
      org.apache.kafka.tools.AclCommand --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" \
      --list --topic "${NEEDS}" > "${WORK}/archive.out" 2>&1 && [[ -f "$tmp" ]]; then
    mv -f "$tmp" "$ARCHIVE"
  else
    rm -f "$tmp"  # only slower without it
  fi
}
make_archive

# Runs in the background, at most MAX_JOBS at once; `finish` waits and reports failures.
RUNS=()
spawn() {  # description command...
  local out="${WORK}/run-${#RUNS[@]}"
  RUNS+=("$out")
  echo "$1" > "${out}.what"
  shift
  while (( $(jobs -rp | wc -l) >= MAX_JOBS )); do wait -n || true; done
  ( if "$@" > "$out" 2>&1; then echo 0 > "${out}.rc"; else echo 1 > "${out}.rc"; fi ) &
}
finish() {
  wait
  local out failed=0
  for out in "${RUNS[@]}"; do
    if [[ "$(cat "${out}.rc" 2>/dev/null)" == 0 ]]; then
      echo "  ok: $(cat "${out}.what")"
    else
      failed=1
      echo "  FAILED: $(cat "${out}.what")" >&2
      sed 's/^/    /' "$out" >&2
    fi
  done
  RUNS=()
  (( ! failed )) || die "some grants failed (above)"
}

# allow PRINCIPALS OPERATIONS PATTERN RESOURCES: the PRINCIPALS (comma-separated user names)
# may do the OPERATIONS (comma-separated) on every RESOURCE (topic:NAME or group:NAME),
# matched LITERAL (the exact name) or PREFIXED (every name starting with it).
allow() {
  local args=(--add) p o r
  for p in ${1//,/ }; do args+=(--allow-principal "User:${p}"); done
  for o in ${2//,/ }; do args+=(--operation "$o"); done
  args+=(--resource-pattern-type "$3")
  for r in "${@:4}"; do args+=("--${r%%:*}" "${r#*:}"); done
  spawn "User:${1//,/ User:} ${2} on ${3} ${*:4}" tool acls "${args[@]}"
}

cmd_services() {
  echo "Granting the services' ACLs on ${BOOTSTRAP}"
  # Each service creates the topics it declares at start (ensure_topics) if missing, produces
  # its own events, reads the other's, dead-letters to <topic>.dlq, commits in its own groups.
  allow needs Write,Create LITERAL "topic:${NEEDS}" "topic:${PLACEMENTS}.dlq"
  allow needs Read,Create LITERAL "topic:${PLACEMENTS}"
  allow needs Read PREFIXED "group:${PREFIX}needs" "topic:${COMMANDS}"
  allow placement Write,Create LITERAL "topic:${PLACEMENTS}" "topic:${NEEDS}.dlq"
  allow placement Read,Create LITERAL "topic:${NEEDS}"
  allow placement Read PREFIXED "group:${PREFIX}placement" "topic:${COMMANDS}"
  # Replies to every agency; the agencies' commands are read above (PREFIXED).
  allow needs,placement Write PREFIXED "topic:${REPLIES}"
  allow reporting Read,Create LITERAL "topic:${NEEDS}" "topic:${PLACEMENTS}"
  allow reporting Write,Create LITERAL "topic:${NEEDS}.dlq" "topic:${PLACEMENTS}.dlq"
  allow reporting Read PREFIXED "group:${PREFIX}reporting"
  finish
}

create_topic() {  # NAME: created if missing, then (new or old) kept RETENTION_MS only
  tool topics --create --if-not-exists --topic "$1" --partitions "$PARTITIONS" \
    --replication-factor 1 --config "retention.ms=${RETENTION_MS}"
  tool configs --alter --entity-type topics --entity-name "$1" \
    --add-config "retention.ms=${RETENTION_MS}"
}

cmd_agency() {
  (( $# )) || die "usage: $0 agency CODE..."
  local code
  for code in "$@"; do
    [[ "$code" =~ ^[A-Z0-9_]+$ ]] || die "'${code}' is not a unit code (A-Z, 0-9, _)"
  done
  for code in "$@"; do
    echo "Granting agency-${code} its topics and groups on ${BOOTSTRAP}"
    allow "agency-${code}" Write LITERAL "topic:${COMMANDS}${code}"
    allow "agency-${code}" Read LITERAL "topic:${REPLIES}${code}"
    # Its consumer groups: agency-<CODE>, agency-<CODE>-anything. No unit code is a prefix of
    # another (tests/unit/test_kafka_acl_policy.py), so no agency can join another's group.
    allow "agency-${code}" Read PREFIXED "group:${PREFIX}agency-${code}"
    # A command the services cannot read (not JSON, no command id) is parked in
    # <commands topic>.dlq, readable by operators only: the services may write there.
    allow needs,placement Write,Create LITERAL "topic:${COMMANDS}${code}.dlq"
    local topic
    for topic in "${COMMANDS}${code}" "${REPLIES}${code}" "${COMMANDS}${code}.dlq"; do
      spawn "topic ${topic} (created if missing, kept ${RETENTION_MS} ms)" create_topic "$topic"
    done
  done
  finish
}

cmd_subscriber() {
  (( $# == 1 )) || die "usage: $0 subscriber NAME"
  [[ "$1" =~ ^subscriber-[a-z0-9-]+$ ]] \
    || die "'$1' is not a subscriber name (subscriber-<lower-case letters, digits, ->)"
  # An outside system approved to consume the events (docs/contract.md, "Access"): it reads
  # both event topics in consumer groups of its own, and nothing else. Identities stay sealed.
  echo "Granting $1 read access to the event topics on ${BOOTSTRAP}"
  allow "$1" Read LITERAL "topic:${NEEDS}" "topic:${PLACEMENTS}"
  allow "$1" Read PREFIXED "group:${PREFIX}$1"
  finish
}

cmd_user() {
  (( $# == 1 )) || die "usage: $0 user NAME (password from KAFKA_USER_PASSWORD)"
  [[ "$1" =~ ^[A-Za-z0-9._-]+$ ]] || die "'$1' is not a user name (letters, digits, ._-)"
  local password="${KAFKA_USER_PASSWORD:-}" generated=0
  if [[ -z "$password" ]]; then
    password="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    generated=1
  fi
  [[ "$password" =~ ^[A-Za-z0-9._~+-]+$ ]] || die "the password may hold only letters, digits and ._~+-"
  tool configs --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=${password}]" > "${WORK}/user.out" 2>&1 \
    || { cat "${WORK}/user.out" >&2; die "could not set the SCRAM credential of $1"; }
  echo "SCRAM-SHA-512 credential of User:$1 set on ${BOOTSTRAP}"
  if (( generated )); then echo "password (shown once): ${password}"; fi
}

case "${1:-}" in
  services) cmd_services ;;
  agency) shift; cmd_agency "$@" ;;
  subscriber) shift; cmd_subscriber "$@" ;;
  user) shift; cmd_user "$@" ;;
  list) tool acls --list ;;
  *) echo "usage: $0 services | agency CODE... | subscriber NAME | user NAME | list" >&2; exit 2 ;;
esac
