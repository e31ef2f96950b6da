#!/usr/bin/env bash
# The seed's guided practical, in distributed mode, as a test:
#
#   scripts/practical.sh
#
# 1. builds sluice (or takes the binary in $SLUICE_BIN),
# 2. writes a worker.yaml (a group.id, internal topics and a sink topic unique
#    to this run; bootstrap.servers from SLUICE_KAFKA_BROKERS, taken from the
#    environment or .services.env; rest.listen on a free loopback port),
# 3. starts `sluice worker -c worker.yaml` and waits until
#    `GET /connector-plugins` answers, checks FileStreamSinkConnector is listed,
# 4. `POST /connectors` creates a FileStreamSink with the JSON a Kafka Connect
#    user writes,
# 5. produces records with `kcat -P` and waits until the file holds exactly
#    them,
# 6. checks `GET /connectors/<name>/status` shows the connector and its task
#    RUNNING,
# 7. stops the worker (SIGTERM) and, on any exit, deletes the run's topics,
#    the sink's consumer group and the work directory.
#
# Needs: go (unless SLUICE_BIN), curl, kcat, java (Kafka's TopicCommand from
# .services/kafka/libs, as the broker does not auto-create topics) and jq or
# python3. Start Kafka first: scripts/services.sh up kafka.
# Environment: SLUICE_BIN, SLUICE_KAFKA_BROKERS, KAFKA_LIBS (default
# .services/kafka/libs), PRACTICAL_TIMEOUT (seconds per wait, default 60),
# PRACTICAL_KEEP=1 keeps the work directory, PRACTICAL_JSON=jq|python3
# chooses the JSON reader (default: jq when installed).
# Exit status 0 when every step passed; otherwise 1 with a message saying
# which step failed (and the worker's log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TIMEOUT="${PRACTICAL_TIMEOUT:-60}"
KAFKA_LIBS="${KAFKA_LIBS:-$ROOT/.services/kafka/libs}"

log() { printf 'practical: %s\n' "$*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}
now() { date +%s; }

for tool in curl kcat java; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/services.sh up kafka installs java and kcat; curl: apt-get install curl)"
done
JSON="${PRACTICAL_JSON:-}"
if [[ -n "$JSON" ]]; then
	command -v "$JSON" >/dev/null || die "PRACTICAL_JSON=$JSON not found"
elif command -v jq >/dev/null; then
	JSON=jq
elif command -v python3 >/dev/null; then
	JSON=python3
else
	die "neither jq nor python3 found to read the JSON answers"
fi

BROKERS="${SLUICE_KAFKA_BROKERS:-}"
if [[ -z "$BROKERS" && -f "$ROOT/.services.env" ]]; then
	BROKERS="$(sed -n 's/^SLUICE_KAFKA_BROKERS=//p' "$ROOT/.services.env" | tail -n1)"
fi
[[ -n "$BROKERS" ]] || die "SLUICE_KAFKA_BROKERS is not set and .services.env lacks it; run: scripts/services.sh up kafka"
timeout 10 kcat -b "$BROKERS" -L -m 5 >/dev/null 2>&1 || die "Kafka at $BROKERS does not answer; run: scripts/services.sh up kafka"
compgen -G "$KAFKA_LIBS/kafka-tools-*.jar" >/dev/null || die "no Kafka tools in $KAFKA_LIBS; run: scripts/services.sh up kafka"

# ---------------------------------------------------------------- run state

RUN="$(date +%Y%m%d%H%M%S)-$$"
PREFIX="sluice-practical-$RUN"
TOPIC="$PREFIX-in"
NAME="practical-file-sink-$RUN"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-practical.XXXXXX")"
WORKER_LOG="$WORK/worker.log"
SINK_FILE="$WORK/out.txt"
WORKER_PID=""

kafka_java() {
	java -Xmx256m -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.xml" "$@"
}
topics() { kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" "$@"; }

stop_worker() {
	[[ -n "$WORKER_PID" ]] || return 0
	if kill -0 "$WORKER_PID" 2>/dev/null; then
		kill -TERM "$WORKER_PID"
		local deadline=$(($(now) + 30))
		while kill -0 "$WORKER_PID" 2>/dev/null && (($(now) < deadline)); do sleep 0.2; done
		if kill -0 "$WORKER_PID" 2>/dev/null; then
			log "worker $WORKER_PID did not stop within 30 s of SIGTERM; killing it"
			kill -KILL "$WORKER_PID"
		fi
	fi
	local rc=0
	wait "$WORKER_PID" 2>/dev/null || rc=$?
	WORKER_PID=""
	return "$rc"
}

cleanup() {
	local rc=$?
	set +e
	stop_worker
	if ((rc != 0)) && [[ -f "$WORKER_LOG" ]]; then
		log "worker log ($WORKER_LOG):"
		sed 's/^/  | /' "$WORKER_LOG" >&2
	fi
	topics --delete --if-exists --topic "$PREFIX-.*" >"$WORK/cleanup.log" 2>&1 ||
		log "could not delete topics $PREFIX-* ($(tail -n3 "$WORK/cleanup.log"))"
	kafka_java org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
		--bootstrap-server "$BROKERS" --delete --group "connect-$NAME" >>"$WORK/cleanup.log" 2>&1
	if [[ "${PRACTICAL_KEEP:-}" == 1 ]]; then
		log "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	if ((rc == 0)); then
		log "PASSED"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# json FILTER < document: one value, read with jq or python3. FILTER is a
# jq path of object keys and array indexes (.connector.state, .tasks[0].state,
# .tasks|length, [.[].class]|join(",")) limited to the forms used below.
json() {
	if [[ "$JSON" == jq ]]; then
		jq -r "$1"
		return
	fi
	python3 -c '
import json, re, sys
f, v = sys.argv[1], json.load(sys.stdin)
if f == "[.[].class]|join(\",\")":
    print(",".join(p["class"] for p in v)); sys.exit()
length = f.endswith("|length")
f = f.removesuffix("|length")
for part in re.findall(r"\.(\w+)|\[(\d+)\]", f):
    v = v[part[0]] if part[0] else v[int(part[1])]
print(len(v) if length else (v if isinstance(v, str) else json.dumps(v)))
' "$1"
}

# http METHOD PATH [BODY]: sets CODE and BODY (the answer's status and body;
# 000 and curl's error when there was no answer).
http() {
	local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$1" "$BASE$2")
	if (($# > 2)); then
		args+=(-H 'Content-Type: application/json' --data-binary "$3")
	fi
	if CODE="$(curl "${args[@]}" 2>"$WORK/curl.err")"; then
		BODY="$(cat "$WORK/body")"
	else
		CODE=000 BODY="$(cat "$WORK/curl.err")"
	fi
}

# ---------------------------------------------------------------- 1. binary

if [[ -n "${SLUICE_BIN:-}" ]]; then
	[[ -x "$SLUICE_BIN" ]] || die "SLUICE_BIN=$SLUICE_BIN is not an executable"
	BIN="$SLUICE_BIN"
else
	log "building sluice"
	BIN="$WORK/sluice"
	"${GO:-go}" build -o "$BIN" ./cmd/sluice || die "go build ./cmd/sluice"
fi

# ---------------------------------------------------------------- 2. worker.yaml

# A free loopback port: bind port 0, read what the kernel chose, release it.
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)" ||
	PORT="$((20000 + RANDOM % 20000))"
BASE="http://127.0.0.1:$PORT"
cat >"$WORK/worker.yaml" <<EOF
group.id: $PREFIX
bootstrap.servers: $BROKERS
config.storage.topic: $PREFIX-configs
offset.storage.topic: $PREFIX-offsets
offset.storage.partitions: 1
status.storage.topic: $PREFIX-status
status.storage.partitions: 1
rest.listen: 127.0.0.1:$PORT
EOF

log "creating topic $TOPIC"
topics --create --topic "$TOPIC" --partitions 1 --replication-factor 1 >"$WORK/topics.log" 2>&1 ||
	die "could not create topic $TOPIC: $(cat "$WORK/topics.log")"

# ---------------------------------------------------------------- 3. worker up

log "starting: sluice worker -c $WORK/worker.yaml (REST $BASE)"
"$BIN" worker -c "$WORK/worker.yaml" >"$WORKER_LOG" 2>&1 &
WORKER_PID=$!

deadline=$(($(now) + TIMEOUT))
while :; do
	kill -0 "$WORKER_PID" 2>/dev/null || die "sluice worker exited before its REST API answered"
	http GET /connector-plugins
	[[ "$CODE" == 200 ]] && break
	(($(now) < deadline)) || die "GET /connector-plugins did not answer 200 within ${TIMEOUT}s (last: $CODE $BODY)"
	sleep 0.2
done
classes="$(json '[.[].class]|join(",")' <<<"$BODY")" || die "GET /connector-plugins is not a JSON plugin list: $BODY"
[[ ",$classes," == *",org.apache.kafka.connect.file.FileStreamSinkConnector,"* ]] ||
	die "GET /connector-plugins lacks org.apache.kafka.connect.file.FileStreamSinkConnector: $BODY"
log "GET /connector-plugins: 200, FileStreamSinkConnector listed"

# ---------------------------------------------------------------- 4. create the sink

CREATE="$(
	cat <<EOF
{
  "name": "$NAME",
  "config": {
    "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
    "tasks.max": "1",
    "topics": "$TOPIC",
    "file": "$SINK_FILE",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter"
  }
}
EOF
)"
# Right after start the worker may still be joining the group (no leader
# yet: 409); retry that until the deadline, fail on anything else.
deadline=$(($(now) + TIMEOUT))
while :; do
	http POST /connectors "$CREATE"
	[[ "$CODE" == 201 ]] && break
	[[ "$CODE" == 409 && "$BODY" == *"rebalance"* ]] || die "POST /connectors answered $CODE, want 201: $BODY"
	(($(now) < deadline)) || die "POST /connectors still $CODE after ${TIMEOUT}s: $BODY"
	sleep 0.5
done
[[ "$(json .name <<<"$BODY")" == "$NAME" && "$(json .type <<<"$BODY")" == sink ]] ||
	die "POST /connectors answer does not describe sink $NAME: $BODY"
log "POST /connectors: 201, connector $NAME created"

# ---------------------------------------------------------------- 5. kcat → file

RECORDS=$'hello sluice\n{"id":42,"name":"json as text"}\nthird record, with spaces\n'
printf '%s' "$RECORDS" | kcat -P -b "$BROKERS" -t "$TOPIC" 2>"$WORK/kcat.log" ||
	die "kcat could not produce to $TOPIC: $(cat "$WORK/kcat.log")"
log "produced 3 records to $TOPIC with kcat"

deadline=$(($(now) + TIMEOUT))
while :; do
	got="$(cat "$SINK_FILE" 2>/dev/null; printf x)"
	got="${got%x}"
	[[ "$got" == "$RECORDS" ]] && break
	if ((${#got} >= ${#RECORDS})); then
		die "$SINK_FILE holds $(printf '%q' "$got"), want $(printf '%q' "$RECORDS")"
	fi
	(($(now) < deadline)) || die "$SINK_FILE holds $(printf '%q' "$got") after ${TIMEOUT}s, want $(printf '%q' "$RECORDS")"
	sleep 0.2
done
log "the 3 records are in $SINK_FILE, byte for byte"

# ---------------------------------------------------------------- 6. status

# The status topic is written by the worker running the task and read by
# every worker, so the answer may lag a moment behind the data: poll.
deadline=$(($(now) + TIMEOUT))
while :; do
	http GET "/connectors/$NAME/status"
	[[ "$CODE" == 200 ]] || die "GET /connectors/$NAME/status answered $CODE, want 200: $BODY"
	state="$(json .connector.state <<<"$BODY")"
	ntasks="$(json '.tasks|length' <<<"$BODY")"
	task="$(json '.tasks[0].state' <<<"$BODY" 2>/dev/null || true)"
	[[ "$state" == RUNNING && "$ntasks" == 1 && "$task" == RUNNING ]] && break
	(($(now) < deadline)) ||
		die "GET /connectors/$NAME/status: connector $state, $ntasks task(s), task 0 $task after ${TIMEOUT}s; want RUNNING and one RUNNING task: $BODY"
	sleep 0.2
done
log "GET /connectors/$NAME/status: connector RUNNING, task 0 RUNNING"

# ---------------------------------------------------------------- 7. stop

stop_worker || die "sluice worker exited with status $? after SIGTERM, want 0"
log "worker stopped cleanly"
