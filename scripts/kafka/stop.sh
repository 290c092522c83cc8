#!/usr/bin/env bash
# Stops the broker scripts/kafka/start.sh started for the same KAFKA_PORT / KAFKA_DIR, by the PID in its
# pid file: SIGTERM (a controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT_SEC (default 30).
# Nothing running is not an error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${KAFKA_PORT:-9092}"
dir="${KAFKA_DIR:-$root/.cache/kafka/run-$port}"
timeout_sec="${KAFKA_STOP_TIMEOUT_SEC:-30}"
pid_file="$dir/kafka.pid"

if [ ! -f "$pid_file" ]; then
  echo "kafka: not running (no $pid_file)"
  exit 0
fi
pid="$(cat "$pid_file")"
dir="$(cd "$dir" && pwd)"
# Only the kafka.Kafka of this KAFKA_DIR: a stale pid file must not stop whatever has that PID now.
if ! { [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $dir/server.properties"; }; then
  echo "kafka: pid $pid is not running this broker (stale pid file removed)"
  rm -f "$pid_file"
  exit 0
fi

kill -TERM "$pid"
deadline=$((SECONDS + timeout_sec))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "kafka: pid $pid still running after ${timeout_sec}s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
rm -f "$pid_file"
echo "kafka: stopped pid $pid"
