#!/usr/bin/env bash
# Record the reference answers of the real Kafka Connect REST API.
#
#   scripts/kafka-connect/record.sh
#
# Resolves Kafka Connect 4.1 from Maven Central (scripts/kafka-connect/pom.xml)
# into .services/kafka-connect/libs (cached per pom.xml content), starts ONE
# distributed worker (org.apache.kafka.connect.cli.ConnectDistributed) on
# 127.0.0.1:18083 against SLUICE_KAFKA_BROKERS (from .services.env; run
# `scripts/services.sh up kafka` first), with a group id and internal topics
# unique to this run, then sends a fixed sequence of requests (every endpoint
# Sluice implements plus bad input) and writes one fixture per request to
# testdata/connect-rest/NNN-name.json. At the end (also on failure) it stops
# the worker by pid and deletes the run's topics and sink consumer groups.
# Fixtures are only replaced when the whole sequence succeeded.
#
# Fixture format and normalisation rules: testdata/connect-rest/README.md.
#
# Environment: CONNECT_PORT (default 18083), CONNECT_TIMEOUT (seconds to wait
# for the worker and for each awaited state, default 120).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

HERE="$ROOT/scripts/kafka-connect"
POM="$HERE/pom.xml"
STATE="$ROOT/.services/kafka-connect"
LIBS="$STATE/libs"
OUT_FINAL="$ROOT/testdata/connect-rest"
PORT="${CONNECT_PORT:-18083}"
TIMEOUT="${CONNECT_TIMEOUT:-120}"
BASE="http://127.0.0.1:$PORT"

log() { printf 'record.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
now() { date +%s; }

for tool in java mvn curl jq kcat; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/services.sh up kafka installs java, maven and kcat; jq: apt-get install jq)"
done

[[ -f "$ROOT/.services.env" ]] || die "no .services.env; run: scripts/services.sh up kafka"
BROKERS="$(sed -n 's/^SLUICE_KAFKA_BROKERS=//p' "$ROOT/.services.env" | tail -n1)"
[[ -n "$BROKERS" ]] || die "SLUICE_KAFKA_BROKERS missing from .services.env; run: scripts/services.sh up kafka"
timeout 10 kcat -b "$BROKERS" -L -m 5 >/dev/null 2>&1 || die "Kafka at $BROKERS does not answer; run: scripts/services.sh up kafka"

# ---------------------------------------------------------------- jars

resolve() {
	local want
	want="$(cksum <"$POM" | cut -d' ' -f1)"
	if [[ -f "$LIBS/.stamp" && "$(cat "$LIBS/.stamp")" == "$want" ]]; then
		return 0
	fi
	log "resolving Kafka Connect jars with Maven (first run only)"
	mkdir -p "$STATE"
	rm -rf "$LIBS.tmp"
	if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$STATE/mvn.log" 2>&1; then
		tail -n 40 "$STATE/mvn.log" >&2
		die "Maven could not resolve $POM (log: $STATE/mvn.log)"
	fi
	printf '%s\n' "$want" >"$LIBS.tmp/.stamp"
	rm -rf "$LIBS"
	mv "$LIBS.tmp" "$LIBS"
}

kjava() {
	java -Xmx256m -cp "$LIBS/*" -Dlog4j2.configurationFile="$HERE/log4j2.xml" "$@"
}

# topics ARGS...: org.apache.kafka.tools.TopicCommand against the test broker.
topics() { kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" "$@"; }

resolve
CONNECT_VERSION=""
for jar in "$LIBS"/connect-runtime-*.jar; do
	if [[ -f "$jar" ]]; then
		CONNECT_VERSION="$(basename "$jar" .jar)"
		CONNECT_VERSION="${CONNECT_VERSION#connect-runtime-}"
	fi
done
[[ -n "$CONNECT_VERSION" ]] || die "no connect-runtime jar in $LIBS"

# ---------------------------------------------------------------- run state

RUN="$(date +%Y%m%d%H%M%S)-$$"
PREFIX="sluice-connect-rec-$RUN"
RUN_DIR="$STATE/run"
WORK="$STATE/out.tmp"
WORKER_LOG="$STATE/log"
WORKER_PROPS="$RUN_DIR/worker.properties"
SINK_TOPIC="$PREFIX-sink-in"
SOURCE_TOPIC="$PREFIX-source-out"
BAD_TOPIC="$PREFIX-not-json"
SINK_FILE="$RUN_DIR/sink.txt"
SINK_PUT_FILE="$RUN_DIR/sink-put.txt"
SOURCE_FILE="$RUN_DIR/source.txt"
# Sink consumer groups are named connect-<connector>; Connect keeps them after
# the connector is deleted, so the cleanup deletes them.
SINK_GROUPS=(connect-file-sink connect-file-sink-put connect-file-sink-failing connect-bad)
WORKER_PID=""

(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null &&
	die "port $PORT is taken (another worker?); see: ss -ltnp 'sport = :$PORT'"

rm -rf "$RUN_DIR" "$WORK"
mkdir -p "$RUN_DIR" "$WORK"

cleanup() {
	local rc=$?
	set +e
	if [[ -n "$WORKER_PID" ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
		log "stopping worker (pid $WORKER_PID)"
		kill -TERM "$WORKER_PID"
		local deadline=$(($(now) + 60))
		while kill -0 "$WORKER_PID" 2>/dev/null && (($(now) < deadline)); do sleep 0.3; done
		if kill -0 "$WORKER_PID" 2>/dev/null; then
			log "worker $WORKER_PID did not stop in 60s; killing"
			kill -KILL "$WORKER_PID"
		fi
	fi
	log "deleting topics $PREFIX-* and groups ${SINK_GROUPS[*]}"
	topics --delete --if-exists --topic "$PREFIX-.*" >>"$STATE/cleanup.log" 2>&1 ||
		log "could not delete topics $PREFIX-* (see $STATE/cleanup.log)"
	local g
	for g in "${SINK_GROUPS[@]}"; do
		kjava org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
			--bootstrap-server "$BROKERS" --delete --group "$g" >>"$STATE/cleanup.log" 2>&1 || true
	done
	rm -rf "$WORK"
	if ((rc != 0)); then
		log "FAILED (exit $rc); fixtures in $OUT_FINAL left unchanged; worker log: $WORKER_LOG"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- topics and data

log "creating topics $SINK_TOPIC, $SOURCE_TOPIC and $BAD_TOPIC"
: >"$STATE/cleanup.log"
for t in "$SINK_TOPIC" "$SOURCE_TOPIC" "$BAD_TOPIC"; do
	topics --create --topic "$t" --partitions 1 --replication-factor 1 >"$STATE/topics.log" 2>&1 ||
		{
			cat "$STATE/topics.log" >&2
			die "could not create topic $t"
		}
done
printf '%s\n' '{"id":1,"name":"alpha"}' '{"id":2,"name":"beta"}' '{"id":3,"name":"gamma"}' |
	kcat -P -b "$BROKERS" -t "$SINK_TOPIC" 2>"$STATE/kcat.log" ||
	die "kcat could not produce to $SINK_TOPIC: $(cat "$STATE/kcat.log")"
# Not JSON: the JsonConverter fails on it, so a sink reading this topic has a FAILED task.
printf '%s\n' 'this is not json' | kcat -P -b "$BROKERS" -t "$BAD_TOPIC" 2>"$STATE/kcat.log" ||
	die "kcat could not produce to $BAD_TOPIC: $(cat "$STATE/kcat.log")"
printf '%s\n' 'first line' 'second line' 'third line' >"$SOURCE_FILE"

# ---------------------------------------------------------------- worker

sed -e "s|@BROKERS@|$BROKERS|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@PORT@|$PORT|g" \
	"$HERE/worker.properties" >"$WORKER_PROPS"
[[ -f "$WORKER_LOG" ]] && mv -f "$WORKER_LOG" "$WORKER_LOG.1"
log "starting Kafka Connect $CONNECT_VERSION worker on $BASE (group $PREFIX)"
setsid java -Xmx512m -Xms256m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
	-cp "$LIBS/*" -Dlog4j2.configurationFile="$HERE/log4j2.xml" \
	org.apache.kafka.connect.cli.ConnectDistributed "$WORKER_PROPS" </dev/null >"$WORKER_LOG" 2>&1 &
WORKER_PID=$!

# The REST server answers before the worker has joined its group; GET
# /connectors answers 200 only once the herder is ready.
deadline=$(($(now) + TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/connectors" 2>/dev/null)" == 200 ]]; do
	kill -0 "$WORKER_PID" 2>/dev/null || {
		tail -n 40 "$WORKER_LOG" >&2
		die "worker exited during startup (log: $WORKER_LOG)"
	}
	(($(now) < deadline)) || {
		tail -n 40 "$WORKER_LOG" >&2
		die "worker REST API not ready within ${TIMEOUT}s (log: $WORKER_LOG)"
	}
	sleep 0.5
done
log "worker ready (pid $WORKER_PID)"

# ---------------------------------------------------------------- recording
#
# Placeholders: request templates in the fixtures use @NAME@ for values that
# differ per run; they are substituted before sending, and the same values in
# responses are replaced by the placeholder again.
PLACEHOLDERS=(
	"@BASE_URL@=$BASE"
	"@SINK_TOPIC@=$SINK_TOPIC"
	"@SOURCE_TOPIC@=$SOURCE_TOPIC"
	"@BAD_TOPIC@=$BAD_TOPIC"
	"@SINK_FILE@=$SINK_FILE"
	"@SINK_PUT_FILE@=$SINK_PUT_FILE"
	"@SOURCE_FILE@=$SOURCE_FILE"
	"@RUN_DIR@=$RUN_DIR"
	"@RUN_PREFIX@=$PREFIX"
)

subst() {
	local s="$1" kv
	for kv in "${PLACEHOLDERS[@]}"; do s="${s//"${kv%%=*}"/"${kv#*=}"}"; done
	printf '%s' "$s"
}

unsubst() {
	local s="$1" kv
	for kv in "${PLACEHOLDERS[@]}"; do s="${s//"${kv#*=}"/"${kv%%=*}"}"; done
	printf '%s' "$s"
}

# Keys whose values differ per run or per implementation (see README).
VOLATILE_KEYS='["worker_id","version","commit","kafka_cluster_id","trace","last_modified"]'

# await JSON: poll until the condition holds (see README, "await").
await() {
	local spec="$1" path want_status cstate tstates nonempty deadline code body ok
	path="$(subst "$(jq -r '.path' <<<"$spec")")"
	want_status="$(jq -r '.status // 200' <<<"$spec")"
	cstate="$(jq -r '.connector_state // empty' <<<"$spec")"
	tstates="$(jq -c '.task_states // empty' <<<"$spec")"
	nonempty="$(jq -c '.nonempty // empty' <<<"$spec")"
	deadline=$(($(now) + TIMEOUT))
	while :; do
		code="$(curl -s -o "$WORK/await.body" -w '%{http_code}' "$BASE$path" || true)"
		ok=0
		if [[ "$code" == "$want_status" ]]; then
			ok=1
			body="$(cat "$WORK/await.body")"
			if [[ -n "$cstate" ]]; then
				[[ "$(jq -r '.connector.state' <<<"$body")" == "$cstate" ]] || ok=0
			fi
			if [[ -n "$tstates" ]]; then
				[[ "$(jq -c '[.tasks[].state]' <<<"$body")" == "$tstates" ]] || ok=0
			fi
			if [[ -n "$nonempty" ]]; then
				jq -e --argjson p "$nonempty" 'getpath($p) | length > 0' <<<"$body" >/dev/null 2>&1 || ok=0
			fi
		fi
		((ok)) && return 0
		(($(now) < deadline)) || die "await $spec: not reached within ${TIMEOUT}s; last answer $code: $(cat "$WORK/await.body" 2>/dev/null)"
		sleep 0.3
	done
}

SEQ=0

# probe LABEL PATH: GET PATH and append the answer to probes.log, unrecorded
# (answers that depend on timing, e.g. the status right after a create).
probe() {
	printf '%s %s -> %s\n' "$1" "$2" "$(curl -s -w ' [%{http_code}]' "$BASE$2")" >>"$STATE/probes.log"
}
: >"$STATE/probes.log"

# rec [-a AWAIT] [-c CONTENT_TYPE] [-d DYNAMIC_KEYS] NAME METHOD PATH [BODY]
#
# Sends one request (after waiting for AWAIT, if given) and writes its fixture.
# DYNAMIC_KEYS is a JSON array of paths (arrays of keys) to objects in the
# response body whose key set is data, not shape (see README).
# BODY is sent verbatim (after placeholder substitution) with Content-Type
# application/json unless -c says otherwise; a BODY that is not JSON is kept
# in the fixture as request.body_raw.
rec() {
	local await_spec="" ct="application/json" dynamic=""
	while [[ "${1-}" == -a || "${1-}" == -c || "${1-}" == -d ]]; do
		case "$1" in
		-a) await_spec="$2" ;;
		-c) ct="$2" ;;
		-d) dynamic="$2" ;;
		esac
		shift 2
	done
	local name="$1" method="$2" path="$3" body="${4-}" has_body=0
	(($# >= 4)) && has_body=1
	SEQ=$((SEQ + 1))
	local file
	file="$(printf '%03d-%s.json' "$SEQ" "$name")"

	[[ -n "$await_spec" ]] && await "$await_spec"

	local args=(-sS -o "$WORK/resp.body" -D "$WORK/resp.hdr" -w '%{http_code}' -X "$method" --max-time 120)
	if ((has_body)); then
		subst "$body" >"$WORK/req.body"
		args+=(-H "Content-Type: $ct" --data-binary "@$WORK/req.body")
	fi
	local code
	code="$(curl "${args[@]}" "$BASE$(subst "$path")")" || die "$file: curl $method $path failed"

	local resp ctype location
	resp="$(unsubst "$(cat "$WORK/resp.body")")"
	ctype="$(sed -n 's/^[Cc]ontent-[Tt]ype:[[:space:]]*//p' "$WORK/resp.hdr" | tr -d '\r' | tail -n1)"
	location="$(unsubst "$(sed -n 's/^[Ll]ocation:[[:space:]]*//p' "$WORK/resp.hdr" | tr -d '\r' | tail -n1)")"

	local req_json
	req_json="$(jq -n --arg m "$method" --arg p "$path" '{method: $m, path: $p}')"
	if ((has_body)); then
		req_json="$(jq --arg ct "$ct" '. + {content_type: $ct}' <<<"$req_json")"
		if jq -e . >/dev/null 2>&1 <<<"$body" && [[ -n "$body" ]]; then
			req_json="$(jq --argjson b "$body" '. + {body: $b}' <<<"$req_json")"
		else
			req_json="$(jq --arg b "$body" '. + {body_raw: $b}' <<<"$req_json")"
		fi
	fi

	local resp_json
	resp_json="$(jq -n --argjson s "$code" '{status: $s}')"
	[[ -n "$ctype" ]] && resp_json="$(jq --arg v "$ctype" '. + {content_type: $v}' <<<"$resp_json")"
	[[ -n "$location" ]] && resp_json="$(jq --arg v "$location" '. + {location: $v}' <<<"$resp_json")"
	if [[ -n "$resp" ]] && jq -e . >/dev/null 2>&1 <<<"$resp"; then
		resp_json="$(jq --argjson b "$resp" --argjson keys "$VOLATILE_KEYS" '
			. + {body: $b, volatile: [$b | paths as $p
				| select(($p[-1] | type) == "string" and ($p[-1] | IN($keys[]))) | $p]}
			| if (.volatile | length) == 0 then del(.volatile) else . end' <<<"$resp_json")"
	elif [[ -n "$resp" ]]; then
		resp_json="$(jq --arg b "$resp" '. + {body_raw: $b}' <<<"$resp_json")"
	fi
	if [[ -n "$dynamic" ]]; then
		resp_json="$(jq --argjson d "$dynamic" '. + {dynamic_keys: $d}' <<<"$resp_json")"
	fi

	jq -n --argjson seq "$SEQ" --arg name "$name" --argjson req "$req_json" \
		--argjson resp "$resp_json" --arg await "$await_spec" '
		{seq: $seq, name: $name}
		+ (if $await == "" then {} else {await: ($await | fromjson)} end)
		+ {request: $req, response: $resp}' >"$WORK/$file"
	log "$(printf '%-44s %-6s %-60s -> %s' "$file" "$method" "$path" "$code")"
}

# state NAME CONNECTOR_STATE [TASK_STATES_JSON]: an await spec on the status.
state() {
	jq -nc --arg n "$1" --arg s "$2" --argjson t "${3:-null}" '
		{path: "/connectors/\($n)/status", connector_state: $s}
		+ (if $t == null then {} else {task_states: $t} end)'
}

SINK_CLASS=org.apache.kafka.connect.file.FileStreamSinkConnector
SOURCE_CLASS=org.apache.kafka.connect.file.FileStreamSourceConnector

# Worker-level ---------------------------------------------------------------
rec server-info GET /
rec connector-plugins GET /connector-plugins
rec connector-plugins-all GET '/connector-plugins?connectorsOnly=false'
rec plugin-config-alias GET /connector-plugins/FileStreamSink/config
rec plugin-config-class GET "/connector-plugins/$SINK_CLASS/config"
rec plugin-config-source GET /connector-plugins/FileStreamSourceConnector/config
rec plugin-config-unknown GET /connector-plugins/NoSuchConnector/config
rec validate-ok PUT /connector-plugins/FileStreamSinkConnector/config/validate \
	"{\"connector.class\":\"$SINK_CLASS\",\"name\":\"file-sink\",\"tasks.max\":\"1\",\"topics\":\"@SINK_TOPIC@\",\"file\":\"@SINK_FILE@\"}"
rec validate-errors PUT /connector-plugins/FileStreamSinkConnector/config/validate \
	"{\"connector.class\":\"$SINK_CLASS\",\"name\":\"file-sink\",\"tasks.max\":\"abc\"}"
rec validate-unknown-plugin PUT /connector-plugins/NoSuchConnector/config/validate \
	'{"connector.class":"NoSuchConnector","name":"x","tasks.max":"1"}'
rec validate-malformed PUT /connector-plugins/FileStreamSinkConnector/config/validate '{"connector.class": '
rec -d '[[]]' loggers GET /admin/loggers
rec logger-get GET /admin/loggers/org.apache.kafka.clients
rec logger-get-unknown GET /admin/loggers/org.example.nothing.here
rec logger-set PUT /admin/loggers/org.apache.kafka.connect.runtime.WorkerSinkTask '{"level":"DEBUG"}'
rec logger-set-cluster PUT '/admin/loggers/org.apache.kafka.connect.file?scope=cluster' '{"level":"DEBUG"}'
rec logger-set-bad-level PUT /admin/loggers/org.apache.kafka.connect.runtime.WorkerSinkTask '{"level":"LOUD"}'
rec logger-set-no-level PUT /admin/loggers/org.apache.kafka.connect.runtime.WorkerSinkTask '{}'
rec -d '[[]]' loggers-after-set GET /admin/loggers

# Bad input on create ---------------------------------------------------------
rec connectors-empty GET /connectors
rec create-malformed-json POST /connectors '{"name":"bad","config":{"connector.class":'
rec create-empty-body POST /connectors ''
rec -c text/plain create-wrong-content-type POST /connectors \
	"{\"name\":\"bad\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"topics\":\"@SINK_TOPIC@\"}}"
rec create-no-config POST /connectors '{"name":"bad"}'
rec create-no-name POST /connectors "{\"config\":{\"connector.class\":\"$SINK_CLASS\",\"topics\":\"@SINK_TOPIC@\"}}"
rec create-no-connector-class POST /connectors '{"name":"bad","config":{"topics":"@SINK_TOPIC@"}}'
rec create-unknown-class POST /connectors '{"name":"bad","config":{"connector.class":"com.example.NoSuchConnector","topics":"@SINK_TOPIC@"}}'
rec create-sink-no-topics POST /connectors "{\"name\":\"bad\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"file\":\"@SINK_FILE@\"}}"
rec create-tasks-max-zero POST /connectors "{\"name\":\"bad\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"0\",\"topics\":\"@SINK_TOPIC@\"}}"
rec create-tasks-max-abc POST /connectors "{\"name\":\"bad\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"abc\",\"topics\":\"@SINK_TOPIC@\"}}"
rec create-tasks-max-number POST /connectors "{\"name\":\"bad\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":1,\"topics\":\"@SINK_TOPIC@\"}}"
rec delete-tasks-max-number DELETE /connectors/bad
rec -a '{"path":"/connectors/bad","status":404}' create-name-mismatch POST /connectors "{\"name\":\"bad\",\"config\":{\"name\":\"other\",\"connector.class\":\"$SINK_CLASS\",\"topics\":\"@SINK_TOPIC@\"}}"
rec create-blank-name POST /connectors "{\"name\":\"  \",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"topics\":\"@SINK_TOPIC@\"}}"
rec connectors-still-empty GET /connectors

# Create, read -------------------------------------------------------------
SINK_CONFIG="{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"1\",\"topics\":\"@SINK_TOPIC@\",\"file\":\"@SINK_FILE@\",\"sluice.test.password\":\"s3cret\"}"
rec create-sink POST /connectors "{\"name\":\"file-sink\",\"config\":$SINK_CONFIG}"
probe after-create-sink /connectors/file-sink/status
rec create-sink-duplicate POST /connectors "{\"name\":\"file-sink\",\"config\":$SINK_CONFIG}"
rec -a "$(state file-sink RUNNING '["RUNNING"]')" connectors-one GET /connectors
rec connector-info GET /connectors/file-sink
rec connector-config GET /connectors/file-sink/config
rec connector-status GET /connectors/file-sink/status
rec connector-tasks GET /connectors/file-sink/tasks
rec task-status GET /connectors/file-sink/tasks/0/status
rec task-status-unknown GET /connectors/file-sink/tasks/7/status
rec connector-unknown GET /connectors/nope
rec connector-unknown-config GET /connectors/nope/config
rec connector-unknown-status GET /connectors/nope/status
rec connector-unknown-tasks GET /connectors/nope/tasks
rec connector-unknown-task-status GET /connectors/nope/tasks/0/status
rec connector-unknown-topics GET /connectors/nope/topics
rec connector-unknown-offsets GET /connectors/nope/offsets

# PUT/PATCH config ---------------------------------------------------------------
PUT_CONFIG="{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"1\",\"topics\":\"@SINK_TOPIC@\",\"file\":\"@SINK_PUT_FILE@\"}"
rec put-config-create PUT /connectors/file-sink-put/config "$PUT_CONFIG"
rec -a "$(state file-sink-put RUNNING '["RUNNING"]')" put-config-update PUT /connectors/file-sink-put/config \
	"{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"2\",\"topics\":\"@SINK_TOPIC@\",\"file\":\"@SINK_PUT_FILE@\"}"
rec put-config-name-mismatch PUT /connectors/file-sink-put/config \
	"{\"name\":\"other\",\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"1\",\"topics\":\"@SINK_TOPIC@\"}"
rec put-config-tasks-max-abc PUT /connectors/file-sink-put/config \
	"{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"abc\",\"topics\":\"@SINK_TOPIC@\"}"
rec put-config-malformed PUT /connectors/file-sink-put/config '{"connector.class"'
rec patch-config PATCH /connectors/file-sink-put/config '{"tasks.max":"1","sluice.extra":"x","file":null}'
rec patch-config-unknown PATCH /connectors/nope/config '{"tasks.max":"1"}'
rec -a "$(state file-sink-put RUNNING '["RUNNING"]')" connector-put-config GET /connectors/file-sink-put/config
rec connectors-expand-status GET '/connectors?expand=status'
rec connectors-expand-info GET '/connectors?expand=info'
rec connectors-expand-both GET '/connectors?expand=status&expand=info'

# Source connector, topics, offsets while running ------------------------------
rec create-source POST /connectors \
	"{\"name\":\"file-source\",\"config\":{\"connector.class\":\"$SOURCE_CLASS\",\"tasks.max\":\"1\",\"topic\":\"@SOURCE_TOPIC@\",\"file\":\"@SOURCE_FILE@\"}}"
rec -a '{"path":"/connectors/file-sink/topics","nonempty":["file-sink","topics"]}' \
	connector-topics GET /connectors/file-sink/topics
rec -a '{"path":"/connectors/file-source/topics","nonempty":["file-source","topics"]}' \
	source-topics GET /connectors/file-source/topics
rec -a '{"path":"/connectors/file-sink/offsets","nonempty":["offsets"]}' \
	sink-offsets-running GET /connectors/file-sink/offsets
rec -a '{"path":"/connectors/file-source/offsets","nonempty":["offsets"]}' \
	source-offsets-running GET /connectors/file-source/offsets
rec sink-offsets-patch-running PATCH /connectors/file-sink/offsets \
	'{"offsets":[{"partition":{"kafka_topic":"@SINK_TOPIC@","kafka_partition":0},"offset":{"kafka_offset":1}}]}'
rec sink-offsets-delete-running DELETE /connectors/file-sink/offsets
rec topics-reset PUT /connectors/file-sink/topics/reset
rec topics-after-reset GET /connectors/file-sink/topics
rec topics-reset-unknown PUT /connectors/nope/topics/reset

# A failed task -------------------------------------------------------------------
rec create-failing POST /connectors \
	"{\"name\":\"file-sink-failing\",\"config\":{\"connector.class\":\"$SINK_CLASS\",\"tasks.max\":\"1\",\"topics\":\"@BAD_TOPIC@\",\"file\":\"@RUN_DIR@/failing.txt\"}}"
probe after-create-failing /connectors/file-sink-failing/status
rec -a "$(state file-sink-failing RUNNING '["FAILED"]')" status-failed GET /connectors/file-sink-failing/status
rec task-status-failed GET /connectors/file-sink-failing/tasks/0/status
rec connectors-expand-status-failed GET '/connectors?expand=status'
rec restart-failed-only-failed POST '/connectors/file-sink-failing/restart?includeTasks=true&onlyFailed=true'
probe after-restart-failed /connectors/file-sink-failing/status
rec -a "$(state file-sink-failing RUNNING '["FAILED"]')" task-restart-failed POST /connectors/file-sink-failing/tasks/0/restart
rec -a "$(state file-sink-failing RUNNING '["FAILED"]')" delete-failing DELETE /connectors/file-sink-failing

# Lifecycle ----------------------------------------------------------------------
rec pause PUT /connectors/file-sink/pause
rec -a "$(state file-sink PAUSED '["PAUSED"]')" status-paused GET /connectors/file-sink/status
rec pause-again PUT /connectors/file-sink/pause
rec resume PUT /connectors/file-sink/resume
rec -a "$(state file-sink RUNNING '["RUNNING"]')" status-resumed GET /connectors/file-sink/status
rec restart POST /connectors/file-sink/restart
rec restart-only-failed POST '/connectors/file-sink/restart?includeTasks=false&onlyFailed=true'
rec -a "$(state file-sink RUNNING '["RUNNING"]')" restart-include-tasks POST '/connectors/file-sink/restart?includeTasks=true&onlyFailed=false'
rec -a "$(state file-sink RUNNING '["RUNNING"]')" restart-include-tasks-only-failed POST '/connectors/file-sink/restart?includeTasks=true&onlyFailed=true'
rec restart-bad-flag POST '/connectors/file-sink/restart?includeTasks=maybe'
rec restart-unknown POST /connectors/nope/restart
rec -a "$(state file-sink RUNNING '["RUNNING"]')" task-restart POST /connectors/file-sink/tasks/0/restart
rec task-restart-unknown POST /connectors/file-sink/tasks/7/restart
rec pause-unknown PUT /connectors/nope/pause
rec resume-unknown PUT /connectors/nope/resume
rec stop-unknown PUT /connectors/nope/stop

# Offsets on a stopped connector ---------------------------------------------------
rec -a "$(state file-sink RUNNING '["RUNNING"]')" stop PUT /connectors/file-sink/stop
rec -a "$(state file-sink STOPPED '[]')" status-stopped GET /connectors/file-sink/status
rec tasks-stopped GET /connectors/file-sink/tasks
rec sink-offsets-stopped GET /connectors/file-sink/offsets
rec sink-offsets-patch PATCH /connectors/file-sink/offsets \
	'{"offsets":[{"partition":{"kafka_topic":"@SINK_TOPIC@","kafka_partition":0},"offset":{"kafka_offset":1}}]}'
rec sink-offsets-after-patch GET /connectors/file-sink/offsets
rec sink-offsets-patch-bad-partition PATCH /connectors/file-sink/offsets \
	'{"offsets":[{"partition":{"kafka_topic":"@SINK_TOPIC@"},"offset":{"kafka_offset":1}}]}'
rec sink-offsets-patch-empty PATCH /connectors/file-sink/offsets '{"offsets":[]}'
rec sink-offsets-patch-malformed PATCH /connectors/file-sink/offsets '{"offsets":'
rec sink-offsets-delete DELETE /connectors/file-sink/offsets
rec sink-offsets-after-delete GET /connectors/file-sink/offsets
rec stop-again PUT /connectors/file-sink/stop
rec resume-from-stopped PUT /connectors/file-sink/resume
rec -a "$(state file-sink RUNNING '["RUNNING"]')" status-after-stop-resume GET /connectors/file-sink/status

rec -a "$(state file-source RUNNING '["RUNNING"]')" source-stop PUT /connectors/file-source/stop
rec -a "$(state file-source STOPPED '[]')" source-offsets-stopped GET /connectors/file-source/offsets
rec source-offsets-patch PATCH /connectors/file-source/offsets \
	'{"offsets":[{"partition":{"filename":"@SOURCE_FILE@"},"offset":{"position":5}}]}'
rec source-offsets-after-patch GET /connectors/file-source/offsets
rec source-offsets-patch-bad PATCH /connectors/file-source/offsets \
	'{"offsets":[{"partition":{"filename":"@SOURCE_FILE@"},"offset":{"position":"five"}}]}'
rec source-offsets-delete DELETE /connectors/file-source/offsets
rec source-offsets-after-delete GET /connectors/file-source/offsets

# Delete, and requests the REST API does not route ----------------------------------
rec delete DELETE /connectors/file-sink
rec -a '{"path":"/connectors/file-sink","status":404}' delete-again DELETE /connectors/file-sink
rec deleted-info GET /connectors/file-sink
rec delete-source DELETE /connectors/file-source
rec delete-put DELETE /connectors/file-sink-put
rec -a '{"path":"/connectors/file-sink-put","status":404}' connectors-after-delete GET /connectors
rec unknown-path GET /no/such/path
rec method-not-allowed DELETE /connectors

# ---------------------------------------------------------------- write fixtures

jq -n --arg v "$CONNECT_VERSION" --arg d "$(date -u +%Y-%m-%d)" --argjson keys "$VOLATILE_KEYS" \
	--argjson n "$SEQ" --argjson ph "$(printf '%s\n' "${PLACEHOLDERS[@]}" | jq -R 'sub("=.*"; "")' | jq -s .)" '
	{kafka_connect_version: $v, recorded: $d, fixtures: $n, placeholders: $ph, volatile_keys: $keys}' \
	>"$WORK/manifest.json"

mkdir -p "$OUT_FINAL"
find "$OUT_FINAL" -maxdepth 1 -name '[0-9][0-9][0-9]-*.json' -delete
mv "$WORK"/[0-9][0-9][0-9]-*.json "$WORK/manifest.json" "$OUT_FINAL/"
log "wrote $SEQ fixtures to ${OUT_FINAL#"$ROOT/"}"
