#!/bin/bash
# The apache/kafka image's rule, as tests/support/provisioning/native/kafka.py codes it for
# the native broker: KAFKA_X_Y=v -> x.y=v, "__" -> "_", "___" -> "-".
set -euo pipefail
config=/var/lib/kafka/server.properties
: "${KAFKA_LOG_DIRS:=/var/lib/kafka/data}"
export KAFKA_LOG_DIRS
: >"$config"
while IFS='=' read -r name value; do
    [[ $name == KAFKA_* ]] || continue
    case $name in KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_LOG4J_OPTS | KAFKA_JVM_PERFORMANCE_OPTS) continue ;; esac
    key=${name#KAFKA_}
    key=${key,,}
    key=${key//___/-}
    key=${key//__/@}
    key=${key//_/.}
    key=${key//@/_}
    printf '%s=%s\n' "$key" "$value" >>"$config"
done < <(env)
# shellcheck disable=SC2206 # KAFKA_HEAP_OPTS holds several options, as upstream
java=(java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms64m} ${KAFKA_OPTS:-} -Djava.awt.headless=true
      -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp '/opt/kafka/libs/*')
if [[ ! -f $KAFKA_LOG_DIRS/meta.properties ]]; then
    "${java[@]}" kafka.tools.StorageTool format -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$config" --ignore-formatted
fi
exec "${java[@]}" kafka.Kafka "$config"
