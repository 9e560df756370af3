#!/bin/bash
# What the apache/kafka image's /opt/kafka/bin/kafka-topics.sh runs (the healthcheck uses it).
exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    -cp '/opt/kafka/libs/*' org.apache.kafka.tools.TopicCommand "$@"
