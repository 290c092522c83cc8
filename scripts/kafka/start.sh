#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft) on 127.0.0.1 in the background and returns once it
# answers (issue #8 "Real parts"). The jars come from Maven Central through pom.xml, copied once into
# .cache/ (a second start downloads nothing).
#
#   KAFKA_PORT             client port (default 9092); the controller listens on KAFKA_CONTROLLER_PORT
#                          (default KAFKA_PORT + 1), SASL clients on KAFKA_SASL_PORT (default KAFKA_PORT + 2)
#   KAFKA_DIR              data, logs and the pid file (default .cache/kafka/run-$KAFKA_PORT)
#   KAFKA_JAVA_OPTS        JVM options (default: a small heap for a 2-core box)
#   KAFKA_START_TIMEOUT_SEC  give up when the broker does not answer this long after its launch (default 120)
#
# scripts/kafka/stop.sh stops the broker this started (by the PID in $KAFKA_DIR/kafka.pid).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
sasl_port="${KAFKA_SASL_PORT:-$((port + 2))}"
dir="${KAFKA_DIR:-$root/.cache/kafka/run-$port}"
timeout_sec="${KAFKA_START_TIMEOUT_SEC:-120}"
java_opts="${KAFKA_JAVA_OPTS:--Xms128m -Xmx256m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError}"
# A fixed cluster id: the base64 of the 16 bytes "OutpostTestKafka".
cluster_id="T3V0cG9zdFRlc3RLYWZrYQ"

started=$SECONDS
mkdir -p "$dir/data" "$dir/logs"
dir="$(cd "$dir" && pwd)"
pid_file="$dir/kafka.pid"
log="$dir/logs/server.log"

is_our_kafka() { # PID: alive, and the kafka.Kafka of this KAFKA_DIR
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "kafka.Kafka $dir/server.properties"
}

if [ -f "$pid_file" ] && is_our_kafka "$(cat "$pid_file")"; then
  if node "$here/ready.mjs" 127.0.0.1 "$port"; then
    echo "kafka: already running on 127.0.0.1:$port (pid $(cat "$pid_file"), log: $log)"
    exit 0
  fi
  echo "kafka: pid $(cat "$pid_file") of $dir is running but does not answer on 127.0.0.1:$port" >&2
  exit 1
fi

# The jars, once per pom.xml (its hash names the folder, so a version bump copies afresh). Copied to a
# temporary folder and renamed, so two starts at once never see a half-filled one.
mkdir -p "$root/.cache/kafka"
libs="$root/.cache/kafka/libs-$(sha1sum "$here/pom.xml" | cut -c1-12)"
if [ ! -d "$libs" ]; then
  echo "kafka: fetching the broker's jars (once) into $libs"
  tmp="$(mktemp -d "$root/.cache/kafka/libs.XXXXXX")"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; exit 1; }
  rm -f "$tmp.log"
  mv -T "$tmp" "$libs" 2>/dev/null || rm -rf "$tmp"
fi

{
  cat "$here/server.properties"
  echo
  echo "# Added by start.sh"
  echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  echo "controller.quorum.voters=1@127.0.0.1:$controller_port"
  echo "log.dirs=$dir/data"
} >"$dir/server.properties"

jvm=(java $java_opts "-Dkafka.logs.dir=$dir/logs" "-Dlog4j2.configurationFile=$here/log4j2.properties"
  -cp "$libs/*")

# Formats the log directory once (a second start keeps the data of the first), with the SASL/SCRAM
# credentials of the test user.
if [ ! -f "$dir/data/meta.properties" ]; then
  "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" \
    --add-scram 'SCRAM-SHA-256=[name=outpost,password=outpost-secret]' \
    --add-scram 'SCRAM-SHA-512=[name=outpost,password=outpost-secret]' \
    -c "$dir/server.properties" >"$dir/logs/format.out" 2>&1 ||
    { cat "$dir/logs/format.out" >&2; exit 1; }
fi

# Another process on one of the ports would answer the readiness probe in our broker's place.
for p in "$port" "$controller_port" "$sasl_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "kafka: 127.0.0.1:$p is already in use; choose another KAFKA_PORT" >&2
    exit 1
  fi
done

# setsid: the broker has a session of its own, so the caller's Ctrl-C or process-group kill does not
# reach it; stop.sh stops it.
setsid "${jvm[@]}" kafka.Kafka "$dir/server.properties" >"$dir/logs/kafka.out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"
deadline=$((SECONDS + timeout_sec))

until node "$here/ready.mjs" 127.0.0.1 "$port"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "kafka: the broker exited during start; last lines of $dir/logs:" >&2
    tail -n 20 "$dir/logs/kafka.out" "$log" >&2 2>/dev/null || true
    rm -f "$pid_file"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "kafka: no answer on 127.0.0.1:$port within ${timeout_sec}s; stopping pid $pid (log: $log)" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    exit 1
  fi
  sleep 0.5
done
echo "kafka: ready on 127.0.0.1:$port (SASL on $sasl_port) in $((SECONDS - started))s (pid $pid, log: $log)"
