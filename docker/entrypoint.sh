#!/usr/bin/env bash
# Roles of the omniseq image: `kafka`, `jobmanager`, `taskmanager`; anything else (omniseq ..., uvicorn ...,
# python ..., feast ...) runs unchanged. Configuration comes from the environment only.
set -euo pipefail
FLINK_HOME="$(python -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')"
export FLINK_HOME

flink_conf() {  # FLINK_PROPERTIES ("key: value" lines) -> $FLINK_CONF_DIR/config.yaml
  export FLINK_CONF_DIR=/tmp/flink-conf FLINK_LOG_DIR=/tmp/flink-log
  mkdir -p "$FLINK_CONF_DIR" "$FLINK_LOG_DIR" /tmp/flink-tmp
  cp "$FLINK_HOME"/conf/log4j-console.properties "$FLINK_CONF_DIR"/ 2>/dev/null || true
  { printf '%s\n' "${FLINK_PROPERTIES:-}"; echo "io.tmp.dirs: /tmp/flink-tmp"; echo "web.upload.dir: /tmp/flink-tmp"; } \
    > "$FLINK_CONF_DIR/config.yaml"
}

case "${1:-}" in
  kafka)
    # single-node KRaft broker + controller from the Maven jars resolved at build time; the same
    # infra/kafka/server.properties template the local runner fills, bound to this container's compose name
    conf=/tmp/kafka.properties
    python - "$conf" <<'PY'
import os, sys
from string import Template
text = Template(open("infra/kafka/server.properties").read()).substitute(
    host=os.environ.get("OMNISEQ_KAFKA_HOST", "kafka"), port=os.environ.get("OMNISEQ_KAFKA_PORT", "9092"),
    controller_port="9093", data_dir="/data/kafka", partitions=os.environ.get("OMNISEQ_KAFKA_PARTITIONS", "2"))
open(sys.argv[1], "w").write(text)
PY
    cp="$OMNISEQ_CACHE_DIR/jars/kafka/*"
    if [ ! -f /data/kafka/meta.properties ]; then
      java -cp "$cp" kafka.tools.StorageTool format --standalone -t "${KAFKA_CLUSTER_ID:?}" -c "$conf"
    fi
    exec java -Xmx512m -Dlog4j2.configurationFile=infra/kafka/log4j2.properties -cp "$cp" kafka.Kafka "$conf" ;;
  jobmanager|taskmanager)
    flink_conf
    exec bash "$FLINK_HOME/bin/$1.sh" start-foreground ;;
  *)
    exec "$@" ;;
esac
