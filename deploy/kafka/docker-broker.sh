#!/usr/bin/env bash
# Starts the compose broker (docker-compose.yml, service kafka, image apache/kafka) with
# SASL/SCRAM and ACLs (docs/adr/0003-kafka-security.md):
#
#  1. server.properties from the container's KAFKA_* variables, named as the image names them:
#     KAFKA_ dropped, then ___ -> '-', __ -> '_', _ -> '.', lower case
#     (KAFKA_LOG_DIRS -> log.dirs, KAFKA_SASL_ENABLED_MECHANISMS -> sasl.enabled.mechanisms);
#  2. each SASL listener's JAAS config: the controller listener takes SASL/PLAIN from the super
#     user admin only, the others SCRAM-SHA-512 (the broker itself logs in as admin);
#  3. on the first start (an empty data volume) the storage formatted with CLUSTER_ID and the
#     SCRAM users admin and SECONDMENT_KAFKA_SCRAM_USERS ("name:password name:password");
#     later changes to those go through `deploy/kafka/acls.sh user`, not this variable;
#  4. the broker, in place of this script.
#
# Env: CLUSTER_ID, SECONDMENT_KAFKA_ADMIN_PASSWORD, SECONDMENT_KAFKA_SCRAM_USERS, the KAFKA_*
# settings; KAFKA_HOME (/opt/kafka), SECONDMENT_KAFKA_CONFIG_DIR (/tmp/secondment-kafka).
# Admin's client config is left in $SECONDMENT_KAFKA_CONFIG_DIR/admin.properties for the
# healthcheck and for `docker compose exec kafka /opt/kafka/bin/kafka-*.sh --command-config …`.
set -euo pipefail

KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
CONFIG_DIR="${SECONDMENT_KAFKA_CONFIG_DIR:-/tmp/secondment-kafka}"
ADMIN_PASSWORD="${SECONDMENT_KAFKA_ADMIN_PASSWORD:?set SECONDMENT_KAFKA_ADMIN_PASSWORD}"
: "${CLUSTER_ID:?set CLUSTER_ID}"

die() { echo "docker-broker.sh: $*" >&2; exit 1; }
check_secret() {  # SCRAM and JAAS syntax allow no quotes, commas or brackets
  [[ "$2" =~ ^[A-Za-z0-9._~+-]+$ ]] || die "$1 may hold only letters, digits and ._~+-"
}
check_secret SECONDMENT_KAFKA_ADMIN_PASSWORD "$ADMIN_PASSWORD"

not_a_property() {  # variables of the JVM and of the image's scripts
  case "$1" in
    KAFKA_HOME | KAFKA_OPTS | KAFKA_HEAP_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | \
      KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS | KAFKA_JMX_PORT | KAFKA_JMX_HOSTNAME | KAFKA_DEBUG | \
      KAFKA_VERSION | KAFKA_LOG4J_ROOT_LOGLEVEL | KAFKA_LOG4J_LOGGERS | KAFKA_TOOLS_LOG4J_LOGLEVEL)
      return 0 ;;
  esac
  return 1
}

property_name() {  # KAFKA_LISTENER_NAME_X_SCRAM___SHA___512_Y -> listener.name.x.scram-sha-512.y
  local name="${1#KAFKA_}"
  name="${name//___/-}"
  name="${name//__/$'\x01'}"
  name="${name//_/.}"
  name="${name//$'\x01'/_}"
  echo "${name,,}"
}

mkdir -p "$CONFIG_DIR"
chmod 700 "$CONFIG_DIR"
CONFIG="${CONFIG_DIR}/server.properties"
{
  echo "# Rendered by deploy/kafka/docker-broker.sh from the container's environment."
  while IFS= read -r var; do
    not_a_property "$var" && continue
    value="${!var}"
    [[ "$value" == *$'\n'* ]] && die "${var} spans several lines"
    echo "$(property_name "$var")=${value}"
  done < <(compgen -e | grep '^KAFKA_' | sort)

  # JAAS per SASL listener, from the protocol map (LISTENER:PROTOCOL,...).
  IFS=, read -ra pairs <<< "${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:-}"
  for pair in "${pairs[@]}"; do
    listener="${pair%%:*}"
    [[ "${pair#*:}" == SASL_* ]] || continue
    if [[ ",${KAFKA_CONTROLLER_LISTENER_NAMES:-}," == *",${listener},"* ]]; then
      echo "listener.name.${listener,,}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"${ADMIN_PASSWORD}\" user_admin=\"${ADMIN_PASSWORD}\";"
    else
      echo "listener.name.${listener,,}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"${ADMIN_PASSWORD}\";"
    fi
  done
} > "$CONFIG"
chmod 600 "$CONFIG"

cat > "${CONFIG_DIR}/admin.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${ADMIN_PASSWORD}";
EOF
chmod 600 "${CONFIG_DIR}/admin.properties"

scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=${ADMIN_PASSWORD}]")
for user in ${SECONDMENT_KAFKA_SCRAM_USERS:-}; do
  name="${user%%:*}"
  [[ "$user" == *:* && "$name" =~ ^[A-Za-z0-9._-]+$ ]] \
    || die "SECONDMENT_KAFKA_SCRAM_USERS: '${name}' is not name:password"
  check_secret "the password of ${name}" "${user#*:}"
  scram+=(--add-scram "SCRAM-SHA-512=[name=${name},password=${user#*:}]")
done

# A formatted volume is left alone (--ignore-formatted): its users and ACLs are in its metadata.
# The output lists the salted SCRAM keys: kept out of the container's log.
"${KAFKA_HOME}/bin/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" \
  --config "$CONFIG" "${scram[@]}" > "${CONFIG_DIR}/format.log" 2>&1 \
  || { grep -v -i 'scram\|salt' "${CONFIG_DIR}/format.log" >&2; die "storage format failed"; }
grep -i 'formatting\|already formatted' "${CONFIG_DIR}/format.log" || true

exec "${KAFKA_HOME}/bin/kafka-server-start.sh" "$CONFIG"
