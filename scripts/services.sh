#!/usr/bin/env bash
# Real services for Sluice's integration tests, on loopback, fixed ports.
#
#   scripts/services.sh up   [name...]   start (idempotent), wait healthy, write .services.env
#   scripts/services.sh down [name...]   stop what `up` started (by pid file)
#   scripts/services.sh status [name...] one line per service
#   scripts/services.sh env              print .services.env
#
# With no names, every known service. State (data, logs, pid files, Kafka jars)
# lives in .services/ at the repo root; addresses go to .services.env as
# KEY=value lines that internal/testenv reads.
#
# Adding a service: write svc_<name>_up, svc_<name>_down and svc_<name>_status
# from the service helpers (running_pid, already_up, launch, await_start,
# stop_service, show_status; java_resolve for Maven-resolved Java servers; see
# kafka and mongo below) and add <name> to KNOWN_SERVICES.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KNOWN_SERVICES=(postgres kafka mariadb mongo s3 opensearch)

STATE="$ROOT/.services"
ENV_FILE="$ROOT/.services.env"

# Ports are fixed; the overrides exist only to try the script beside a running copy.
PG_PORT="${SERVICES_PG_PORT:-54329}"
PG_BIN=/usr/lib/postgresql/15/bin
PG_URL="postgres://sluice:sluice@127.0.0.1:${PG_PORT}/sluice?sslmode=disable"
PG_TIMEOUT=60

KAFKA_PORT="${SERVICES_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SERVICES_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_PORT="${SERVICES_KAFKA_SASL_PORT:-19094}"
# base64url("sluice-dev-kafka"): a fixed cluster id, 16 bytes.
KAFKA_CLUSTER_ID=c2x1aWNlLWRldi1rYWZrYQ
KAFKA_TIMEOUT=120
KAFKA_HEAP_OPTS="-Xmx512m -Xms256m"

# ---------------------------------------------------------------- helpers

log() { printf '%s\n' "$*" >&2; }
die() { printf 'services.sh: %s\n' "$*" >&2; exit 1; }

now() { date +%s; }

# pid_alive PID PATTERN: the process exists and its command line contains
# PATTERN (guards against a recycled pid after a crash or reboot).
pid_alive() {
	local pid="$1" pattern="$2" cmd
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
	[[ "$cmd" == *"$pattern"* ]]
}

# read_pid FILE: the pid stored in FILE, or nothing.
read_pid() {
	if [[ -f "$1" ]]; then head -n1 "$1" | tr -dc '0-9'; fi
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_free PORT: nothing listens on 127.0.0.1:PORT, waiting up to 15 s (after
# a crash, orphaned children of the old server may hold the socket briefly).
port_free() {
	local deadline=$(($(now) + 15))
	while port_open "$1"; do
		(($(now) < deadline)) || return 1
		sleep 0.5
	done
}

# wait_gone PID SECONDS: wait for the process to exit; 1 on timeout.
wait_gone() {
	local pid="$1" deadline=$(($(now) + $2))
	while kill -0 "$pid" 2>/dev/null; do
		(($(now) < deadline)) || return 1
		sleep 0.2
	done
}

# fail_with_log NAME LOGFILE MESSAGE: print the tail of the log and exit.
fail_with_log() {
	log "services.sh: $1: $3"
	if [[ -f "$2" ]]; then
		log "---- last 40 lines of $2 ----"
		tail -n 40 "$2" >&2 || true
		log "----"
	fi
	exit 1
}

# rotate_log FILE: keep the previous run's log as FILE.1.
rotate_log() { [[ -f "$1" ]] && mv -f "$1" "$1.1"; : >"$1"; }

# ensure_packages PKG...: apt-get install the missing ones (one update per run).
APT_UPDATED=0
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	local sudo=()
	((EUID == 0)) || sudo=(sudo)
	log "services.sh: installing ${missing[*]} (apt-get)"
	if ((APT_UPDATED == 0)); then
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# env_set KEY=value...: replace those keys in .services.env, keep the rest.
env_set() {
	local tmp kv keys=()
	for kv in "$@"; do keys+=("${kv%%=*}"); done
	tmp="$(mktemp "$ROOT/.services.env.XXXXXX")"
	if [[ -f "$ENV_FILE" ]]; then
		local line k keep
		while IFS= read -r line || [[ -n "$line" ]]; do
			keep=1
			for k in "${keys[@]}"; do [[ "$line" == "$k="* ]] && keep=0; done
			((keep)) && printf '%s\n' "$line"
		done <"$ENV_FILE" >"$tmp"
	fi
	for kv in "$@"; do
		[[ "$kv" == *=* ]] && printf '%s\n' "$kv" >>"$tmp"
	done
	chmod 644 "$tmp"
	mv -f "$tmp" "$ENV_FILE"
}

# env_unset KEY...: drop those keys from .services.env.
env_unset() {
	[[ -f "$ENV_FILE" ]] || return 0
	local k args=()
	for k in "$@"; do args+=("$k"); done
	env_set "${args[@]}"
}

# ---------------------------------------------------------------- service helpers
#
# The steps every service shares. A service passes its own functions by name:
# RUNNING prints the pid of our server (status 1 when none runs), HEALTHY
# answers 0 when the server serves.

# running_pid PIDFILE PATTERN REGEX: the pid of our server, the one in PIDFILE
# while its command line contains PATTERN; when the pid file is lost, the
# newest process matching the pgrep REGEX whose command line contains PATTERN,
# adopted into PIDFILE. PATTERN names a path of this checkout, so a server
# that another clone started (on other ports) is never ours to adopt or stop.
running_pid() {
	local pidfile="$1" pattern="$2" regex="$3" pid
	pid="$(read_pid "$pidfile")"
	if ! pid_alive "$pid" "$pattern"; then
		pid="$(pgrep -f -n -- "$regex" || true)"
		pid_alive "$pid" "$pattern" || return 1
		printf '%s\n' "$pid" >"$pidfile"
	fi
	printf '%s\n' "$pid"
}

# wait_healthy NAME PID SECONDS INTERVAL HEALTHY...: poll the command HEALTHY...
# every INTERVAL seconds until it succeeds (0); 1 when the process exits or
# SECONDS pass first.
wait_healthy() {
	local name="$1" pid="$2" deadline=$(($(now) + $3)) interval="$4"
	shift 4
	while :; do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || {
			log "$name: process $pid exited"
			return 1
		}
		(($(now) < deadline)) || return 1
		sleep "$interval"
	done
}

# already_up NAME RUNNING HEALTHY SECONDS INTERVAL LOGFILE WHERE KEY=value...:
# when our server runs, wait until it is healthy, publish KEY=value... in
# .services.env and say so (0); 1 when it does not run (its pid file is
# removed); exits with the log's tail when it runs but stays unhealthy.
already_up() {
	local name="$1" running="$2" healthy="$3" secs="$4" interval="$5" logfile="$6" where="$7" pid
	shift 7
	pid="$("$running")" || return 1
	if wait_healthy "$name" "$pid" "$secs" "$interval" "$healthy"; then
		env_set "$@"
		printf '%s: already running (pid %s) on %s\n' "$name" "$pid" "$where"
		return 0
	fi
	fail_with_log "$name" "$logfile" "running (pid $pid) but not healthy within ${secs}s"
}

# ports_free NAME PORT...: exits unless every PORT is free (after up to 15 s).
ports_free() {
	local name="$1" p
	shift
	for p in "$@"; do
		if ! port_free "$p"; then
			die "$name: port $p is taken by another process (not ours); see: ss -ltnp 'sport = :$p'"
		fi
	done
}

# launch PIDFILE LOGFILE CMD...: start CMD in the background in its own
# session (setsid: it outlives this shell and `make`), from /, appending to
# LOGFILE, without the lock on fd 9; its pid goes to PIDFILE. Variables set
# on the call (VAR=x launch ...) reach CMD through its environment.
launch() {
	local pidfile="$1" logfile="$2"
	shift 2
	(cd / && exec setsid "$@") </dev/null >>"$logfile" 2>&1 9>&- &
	printf '%s\n' "$!" >"$pidfile"
}

# await_start NAME PIDFILE SECONDS INTERVAL SIGNAL LOGFILE MESSAGE HEALTHY...:
# wait until the server just launched is healthy; else stop it with SIGNAL
# and exit with MESSAGE and the log's tail.
await_start() {
	local name="$1" pid secs="$3" interval="$4" sig="$5" logfile="$6" msg="$7"
	pid="$(read_pid "$2")"
	shift 7
	if ! wait_healthy "$name" "$pid" "$secs" "$interval" "$@"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		fail_with_log "$name" "$logfile" "$msg"
	fi
}

# say_started NAME PIDFILE WHERE START: the line `up` prints for a new server.
say_started() {
	printf '%s: started (pid %s) on %s in %ss\n' "$1" "$(read_pid "$2")" "$3" "$(($(now) - $4))"
}

# stop_service NAME RUNNING PIDFILE SIGNAL SECONDS KEY...: stop our server
# with SIGNAL, SIGKILL after SECONDS; remove its pid file and its KEYs from
# .services.env.
stop_service() {
	local name="$1" running="$2" pidfile="$3" sig="$4" secs="$5" pid
	shift 5
	if ! pid="$("$running")"; then
		rm -f "$pidfile"
		env_unset "$@"
		printf '%s: not running\n' "$name"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" "$secs"; then
		log "$name: pid $pid did not stop in ${secs}s; killing"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || die "$name: pid $pid would not die"
	fi
	rm -f "$pidfile"
	env_unset "$@"
	printf '%s: stopped (pid %s)\n' "$name" "$pid"
}

# show_status NAME RUNNING HEALTHY DETAILS: the `status` line.
show_status() {
	local name="$1" running="$2" healthy="$3" details="$4" pid
	if pid="$("$running")"; then
		if "$healthy"; then
			printf '%s: running (pid %s) %s\n' "$name" "$pid" "$details"
		else
			printf '%s: running (pid %s) but not answering\n' "$name" "$pid"
		fi
	else
		printf '%s: stopped\n' "$name"
	fi
}

# need_java [jdk]: java (and javac with jdk) and Maven are installed.
need_java() {
	if [[ "${1:-}" == jdk ]]; then
		if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
			ensure_packages openjdk-17-jdk-headless
		fi
	else
		command -v java >/dev/null || ensure_packages openjdk-17-jre-headless
	fi
	command -v mvn >/dev/null || ensure_packages maven
}

# java_resolve NAME DIR POM [MAIN]: copy the runtime jars POM names from Maven
# into DIR/libs and, with MAIN (a .java file), compile it into DIR/classes;
# once per content of POM and MAIN (a stamp in DIR/classes, or in DIR/libs
# without MAIN).
java_resolve() {
	local name="$1" dir="$2" pom="$3" main="${4:-}" want stamp
	local libs="$dir/libs" classes="$dir/classes"
	want="$(cat "$pom" ${main:+"$main"} | cksum | cut -d' ' -f1)"
	stamp="$libs/.stamp"
	[[ -z "$main" ]] || stamp="$classes/.stamp"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		return 0
	fi
	log "$name: resolving jars with Maven (first run only)"
	mkdir -p "$dir"
	rm -rf "$libs.tmp"
	[[ -z "$main" ]] || rm -rf "$classes"
	if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$dir/mvn.log" 2>&1; then
		fail_with_log "$name" "$dir/mvn.log" "Maven could not resolve ${pom#"$ROOT/"}"
	fi
	[[ -n "$main" ]] || printf '%s\n' "$want" >"$libs.tmp/.stamp"
	rm -rf "$libs"
	mv "$libs.tmp" "$libs"
	[[ -n "$main" ]] || return 0
	mkdir -p "$classes"
	if ! javac -d "$classes" -cp "$libs/*" "$main" >"$dir/javac.log" 2>&1; then
		rm -rf "$classes"
		fail_with_log "$name" "$dir/javac.log" "javac ${main#"$ROOT/"} failed"
	fi
	printf '%s\n' "$want" >"$stamp"
}

# JAVA_OPTS: the JVM options every Java service starts with.
JAVA_OPTS=(-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true)

# ---------------------------------------------------------------- postgres
#
# Debian's PostgreSQL 15, a throwaway cluster in .services/postgres/data run as
# the `postgres` system user (initdb and postgres refuse root). TCP on
# 127.0.0.1:54329 only, no unix socket; superuser sluice/sluice (scram),
# database sluice; logical replication enabled.

PG_DIR="$STATE/postgres"
PG_PIDFILE="$PG_DIR/pid"
PG_LOG="$PG_DIR/log"

# as_pg CMD...: run CMD as the postgres system user (when we are root).
# setpriv execs in place, so a background `setsid as_pg ...` has the server's pid.
PG_RUNAS=()
((EUID != 0)) || PG_RUNAS=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
as_pg() { "${PG_RUNAS[@]}" "$@"; }

# pg_datadir: the data directory. Normally .services/postgres/data; when the
# postgres user cannot reach the repo (a parent directory closed to others,
# e.g. under /root) it lives in the postgres user's home, linked from there.
pg_datadir() {
	if [[ -L "$PG_DIR/data" ]]; then
		readlink -f "$PG_DIR/data"
	else
		printf '%s\n' "$PG_DIR/data"
	fi
}

pg_running_pid() {
	local pid
	pid="$(read_pid "$PG_PIDFILE")"
	if pid_alive "$pid" "$(pg_datadir)"; then
		printf '%s\n' "$pid"
		return 0
	fi
	# A postmaster we did not record (pid file lost): adopt it.
	pid="$(read_pid "$(pg_datadir)/postmaster.pid")"
	if pid_alive "$pid" "$(pg_datadir)"; then
		printf '%s\n' "$pid" >"$PG_PIDFILE"
		printf '%s\n' "$pid"
		return 0
	fi
	return 1
}

pg_healthy() {
	PGCONNECT_TIMEOUT=3 psql "$PG_URL" -XqAt -c 'select 1' >/dev/null 2>&1
}

pg_init() {
	local data
	mkdir -p "$PG_DIR"
	if ((EUID == 0)); then
		id postgres >/dev/null 2>&1 || die "postgres: no 'postgres' system user (package postgresql-15 should create it)"
		chown postgres:postgres "$PG_DIR"
		if [[ ! -L "$PG_DIR/data" ]] && ! as_pg test -w "$PG_DIR"; then
			local alt
			alt="$(getent passwd postgres | cut -d: -f6)/sluice-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
			log "postgres: the postgres user cannot reach $PG_DIR; keeping data in $alt"
			rm -rf "$alt" # no link in .services: a fresh state dir, start clean
			mkdir -p "$alt/data"
			chown -R postgres:postgres "$alt"
			ln -sfn "$alt/data" "$PG_DIR/data"
		fi
	fi
	data="$(pg_datadir)"
	[[ -f "$data/PG_VERSION" ]] && return 0

	log "postgres: initdb $data"
	rm -rf "$data"
	mkdir -p "$data"
	local pwfile
	pwfile="$(dirname "$data")/.pwfile"
	printf 'sluice\n' >"$pwfile"
	if ((EUID == 0)); then
		chown postgres:postgres "$data" "$pwfile"
	fi
	chmod 700 "$data"
	chmod 600 "$pwfile"
	if ! (cd / && as_pg "$PG_BIN/initdb" -D "$data" -U sluice --pwfile="$pwfile" -E UTF8 --no-locale \
		--auth-host=scram-sha-256 --auth-local=reject) >"$PG_DIR/initdb.log" 2>&1; then
		rm -f "$pwfile"
		fail_with_log postgres "$PG_DIR/initdb.log" "initdb failed"
	fi
	rm -f "$pwfile"

	cat >>"$data/postgresql.conf" <<EOF

# ---- sluice test settings (scripts/services.sh) ----
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
password_encryption = 'scram-sha-256'
# Throwaway cluster: trade durability on crash for speed. synchronous_commit
# stays at its default (on): commit/LSN semantics match production.
fsync = off
full_page_writes = off
shared_buffers = 128MB
max_wal_size = 1GB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
	cat >"$data/pg_hba.conf" <<'EOF'
# sluice test cluster: TCP from loopback only, passwords (scram).
# TYPE  DATABASE     USER  ADDRESS        METHOD
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
	if ((EUID == 0)); then chown postgres:postgres "$data/postgresql.conf" "$data/pg_hba.conf"; fi
}

svc_postgres_up() {
	local data start
	ensure_packages postgresql-15 postgresql-client-15
	[[ -x "$PG_BIN/postgres" ]] || die "postgres: $PG_BIN/postgres missing after install"
	command -v psql >/dev/null || die "postgres: psql not found"

	if already_up postgres pg_running_pid pg_admin_healthy "$PG_TIMEOUT" 0.3 "$PG_LOG" "127.0.0.1:$PG_PORT" \
		"SLUICE_PG_URL=$PG_URL"; then
		pg_ensure_db
		return 0
	fi
	rm -f "$PG_PIDFILE"
	ports_free postgres "$PG_PORT"

	start=$(now)
	pg_init
	data="$(pg_datadir)"
	# Our postmaster is not running (checked above): a leftover lock file
	# from a crash could name a recycled pid and block the start.
	rm -f "$data/postmaster.pid"
	rotate_log "$PG_LOG"
	launch "$PG_PIDFILE" "$PG_LOG" "${PG_RUNAS[@]}" "$PG_BIN/postgres" -D "$data"
	await_start postgres "$PG_PIDFILE" "$PG_TIMEOUT" 0.3 INT "$PG_LOG" "not healthy within ${PG_TIMEOUT}s" pg_admin_healthy
	pg_ensure_db
	env_set "SLUICE_PG_URL=$PG_URL"
	say_started postgres "$PG_PIDFILE" "127.0.0.1:$PG_PORT" "$start"
}

# pg_ensure_db: database sluice exists (created on first start; recreated if
# a test dropped it) and accepts our login.
pg_ensure_db() {
	local admin="${PG_URL/\/sluice\?//postgres?}"
	if [[ "$(psql "$admin" -XqAt -c "select 1 from pg_database where datname = 'sluice'")" != 1 ]]; then
		psql "$admin" -Xq -c 'create database sluice' >/dev/null ||
			fail_with_log postgres "$PG_LOG" "create database sluice failed"
	fi
	pg_healthy || fail_with_log postgres "$PG_LOG" "database sluice not reachable"
}

# pg_admin_healthy: the server accepts our login on the postgres database
# (sluice may not exist yet on first start).
pg_admin_healthy() {
	PGCONNECT_TIMEOUT=3 psql "${PG_URL/\/sluice\?//postgres?}" -XqAt -c 'select 1' >/dev/null 2>&1
}

svc_postgres_down() {
	# SIGINT: fast shutdown.
	stop_service postgres pg_running_pid "$PG_PIDFILE" INT 30 SLUICE_PG_URL
}

svc_postgres_status() {
	show_status postgres pg_running_pid pg_healthy "SLUICE_PG_URL=$PG_URL"
}

# ---------------------------------------------------------------- kafka
#
# Apache Kafka 4.x, KRaft combined mode (broker+controller), single node, from
# Maven Central jars (scripts/kafka/pom.xml) cached in .services/kafka/libs.
# PLAINTEXT on 127.0.0.1:19092, controller on 127.0.0.1:19093, and a
# SASL_PLAINTEXT listener (mechanism PLAIN, fixed development user
# sluice/sluice-secret) on 127.0.0.1:19094 for tests of kafka.security; the
# controller and inter-broker traffic stay PLAINTEXT.

KAFKA_DIR="$STATE/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PIDFILE="$KAFKA_DIR/pid"
KAFKA_LOG="$KAFKA_DIR/log"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_SASL_USER=sluice
KAFKA_SASL_PASSWORD=sluice-secret

kafka_java() {
	java -cp "$KAFKA_LIBS/*" \
		-Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.xml" "$@"
}

kafka_running_pid() {
	running_pid "$KAFKA_PIDFILE" "$KAFKA_PROPS" "kafka\.Kafka $KAFKA_PROPS\$"
}

kafka_healthy() {
	timeout 10 kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 5 >/dev/null 2>&1
}

# kafka_sasl_healthy: the SASL_PLAINTEXT listener answers a metadata request
# after a PLAIN login as the development user.
kafka_sasl_healthy() {
	timeout 10 kcat -b "127.0.0.1:$KAFKA_SASL_PORT" -X security.protocol=SASL_PLAINTEXT \
		-X sasl.mechanisms=PLAIN -X "sasl.username=$KAFKA_SASL_USER" -X "sasl.password=$KAFKA_SASL_PASSWORD" \
		-L -m 5 >/dev/null 2>&1
}

# kafka_all_healthy: both client listeners answer.
kafka_all_healthy() {
	kafka_healthy && kafka_sasl_healthy
}

# kafka_sasl_props FILE: add the SASL_PLAINTEXT listener to the rendered
# server.properties (appended to listeners, advertised.listeners and the
# protocol map; PLAIN with one user in the listener's JAAS config).
kafka_sasl_props() {
	local file="$1"
	sed -i -e "/^listeners=/s|\$|,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT|" \
		-e "/^advertised.listeners=/s|\$|,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT|" \
		-e "/^listener.security.protocol.map=/s|\$|,SASL_PLAINTEXT:SASL_PLAINTEXT|" "$file"
	cat >>"$file" <<-EOF

		# SASL_PLAINTEXT listener for kafka.security tests (added by scripts/services.sh).
		sasl.enabled.mechanisms=PLAIN
		listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_SASL_USER" password="$KAFKA_SASL_PASSWORD" user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
	EOF
	[[ "$(grep -c "SASL_PLAINTEXT" "$file")" -ge 4 ]] || die "kafka: could not add the SASL_PLAINTEXT listener to $file"
}

svc_kafka_up() {
	local start
	need_java
	if ! command -v kcat >/dev/null || ! command -v curl >/dev/null; then
		ensure_packages kcat curl
	fi
	mkdir -p "$KAFKA_DIR"

	if already_up kafka kafka_running_pid kafka_healthy "$KAFKA_TIMEOUT" 0.5 "$KAFKA_LOG" "127.0.0.1:$KAFKA_PORT" \
		"SLUICE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"; then
		# A broker started before the SASL listener existed keeps serving
		# PLAINTEXT; the SASL address is only written when it answers.
		if kafka_sasl_healthy; then
			env_set "SLUICE_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT"
		else
			env_unset SLUICE_KAFKA_SASL_BROKERS
			log "kafka: no SASL_PLAINTEXT listener on 127.0.0.1:$KAFKA_SASL_PORT (started by an older services.sh?): run 'scripts/services.sh down kafka && scripts/services.sh up kafka' to add it"
		fi
		return 0
	fi
	rm -f "$KAFKA_PIDFILE"
	ports_free kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT"

	start=$(now)
	java_resolve kafka "$KAFKA_DIR" "$KAFKA_POM"
	sed -e "s|@DATA_DIR@|$KAFKA_DATA|g" -e "s|@PORT@|$KAFKA_PORT|g" \
		-e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
		"$ROOT/scripts/kafka/server.properties" >"$KAFKA_PROPS"
	kafka_sasl_props "$KAFKA_PROPS"
	rotate_log "$KAFKA_LOG"

	if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
		log "kafka: formatting storage in $KAFKA_DATA (cluster id $KAFKA_CLUSTER_ID)"
		rm -rf "$KAFKA_DATA"
		mkdir -p "$KAFKA_DATA"
		if ! kafka_java kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" \
			-c "$KAFKA_PROPS" >>"$KAFKA_LOG" 2>&1; then
			rm -rf "$KAFKA_DATA"
			fail_with_log kafka "$KAFKA_LOG" "storage format failed"
		fi
	fi

	# shellcheck disable=SC2086 # word-split heap options on purpose
	launch "$KAFKA_PIDFILE" "$KAFKA_LOG" java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		"${JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.xml" \
		kafka.Kafka "$KAFKA_PROPS"
	await_start kafka "$KAFKA_PIDFILE" "$KAFKA_TIMEOUT" 0.5 TERM "$KAFKA_LOG" \
		"broker did not answer metadata requests (PLAINTEXT and SASL_PLAINTEXT) within ${KAFKA_TIMEOUT}s" kafka_all_healthy
	env_set "SLUICE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" "SLUICE_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT"
	say_started kafka "$KAFKA_PIDFILE" "127.0.0.1:$KAFKA_PORT" "$start"
}

svc_kafka_down() {
	# SIGTERM: controlled shutdown.
	stop_service kafka kafka_running_pid "$KAFKA_PIDFILE" TERM 60 SLUICE_KAFKA_BROKERS SLUICE_KAFKA_SASL_BROKERS
}

svc_kafka_status() {
	show_status kafka kafka_running_pid kafka_healthy \
		"SLUICE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT SLUICE_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT"
}

# ---------------------------------------------------------------- mariadb
#
# Debian's MariaDB server, a throwaway instance in .services/mariadb/data. TCP
# on 127.0.0.1:33069 (unix socket in the state dir for nobody but us), binary
# log in ROW format with full row images and full table-map metadata, server_id
# 1, GTIDs in strict mode. User sluice/sluice with replication privileges,
# database sluice. The user and database are (re)created by an init file on
# every start, so a test that drops them does not break the next run.

MARIADB_PORT="${SERVICES_MARIADB_PORT:-33069}"
MARIADB_URL="mysql://sluice:sluice@127.0.0.1:${MARIADB_PORT}/sluice"
MARIADB_TIMEOUT=60
MARIADB_DIR="$STATE/mariadb"
MARIADB_DATA="$MARIADB_DIR/data"
MARIADB_CNF="$MARIADB_DIR/my.cnf"
MARIADB_PIDFILE="$MARIADB_DIR/pid"
MARIADB_LOG="$MARIADB_DIR/log"

# mariadb_user: mariadbd refuses to run as root unless told to.
mariadb_user() { if ((EUID == 0)); then printf 'root\n'; else id -un; fi; }

# mariadb_socket: a unix socket path short enough for sun_path (108 bytes).
mariadb_socket() {
	local s="$MARIADB_DIR/mysqld.sock"
	if ((${#s} > 100)); then
		s="/tmp/sluice-mariadb-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1).sock"
	fi
	printf '%s\n' "$s"
}

mariadb_write_cnf() {
	mkdir -p "$MARIADB_DIR"
	cat >"$MARIADB_CNF" <<CNF
# sluice test instance (scripts/services.sh); regenerated on every start.
[mariadbd]
user = $(mariadb_user)
datadir = $MARIADB_DATA
socket = $(mariadb_socket)
pid-file = $MARIADB_DIR/mariadbd.pid
port = $MARIADB_PORT
bind-address = 127.0.0.1
skip-name-resolve
init-file = $MARIADB_DIR/init.sql
log-error = $MARIADB_LOG
server_id = 1
log_bin = mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL
binlog_annotate_row_events = ON
gtid_domain_id = 0
gtid_strict_mode = ON
expire_logs_days = 2
max_connections = 200
character_set_server = utf8mb4
collation_server = utf8mb4_general_ci
default_time_zone = '+00:00'
# Throwaway instance: trade durability on a host crash for speed. Commit order
# and the binlog/InnoDB two-phase commit are unchanged.
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
innodb_buffer_pool_size = 128M
innodb_log_file_size = 64M
performance_schema = OFF
CNF
	cat >"$MARIADB_DIR/init.sql" <<'SQL'
CREATE DATABASE IF NOT EXISTS sluice;
CREATE USER IF NOT EXISTS 'sluice'@'127.0.0.1' IDENTIFIED BY 'sluice';
CREATE USER IF NOT EXISTS 'sluice'@'localhost' IDENTIFIED BY 'sluice';
GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'localhost' WITH GRANT OPTION;
SQL
}

mariadb_running_pid() {
	running_pid "$MARIADB_PIDFILE" "$MARIADB_CNF" "mariadbd --defaults-file=$MARIADB_CNF"
}

mariadb_healthy() {
	timeout 5 mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MARIADB_PORT" -usluice -psluice \
		--connect-timeout=3 -N -e 'select 1' sluice >/dev/null 2>&1
}

mariadb_init() {
	[[ -d "$MARIADB_DATA/mysql" ]] && return 0
	log "mariadb: mariadb-install-db $MARIADB_DATA"
	rm -rf "$MARIADB_DATA"
	mkdir -p "$MARIADB_DATA"
	if ! mariadb-install-db --defaults-file="$MARIADB_CNF" --skip-test-db \
		--auth-root-authentication-method=socket >"$MARIADB_DIR/install-db.log" 2>&1; then
		rm -rf "$MARIADB_DATA"
		fail_with_log mariadb "$MARIADB_DIR/install-db.log" "mariadb-install-db failed"
	fi
}

svc_mariadb_up() {
	local start
	command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || ensure_packages mariadb-server
	command -v mariadb >/dev/null || ensure_packages mariadb-client
	local bin=/usr/sbin/mariadbd
	command -v mariadbd >/dev/null && bin="$(command -v mariadbd)"

	if already_up mariadb mariadb_running_pid mariadb_healthy "$MARIADB_TIMEOUT" 0.3 "$MARIADB_LOG" \
		"127.0.0.1:$MARIADB_PORT" "SLUICE_MYSQL_URL=$MARIADB_URL"; then
		return 0
	fi
	rm -f "$MARIADB_PIDFILE"
	ports_free mariadb "$MARIADB_PORT"

	start=$(now)
	mariadb_write_cnf
	mariadb_init
	rm -f "$MARIADB_DIR/mariadbd.pid" "$(mariadb_socket)"
	rotate_log "$MARIADB_LOG"
	launch "$MARIADB_PIDFILE" "$MARIADB_LOG" "$bin" --defaults-file="$MARIADB_CNF"
	await_start mariadb "$MARIADB_PIDFILE" "$MARIADB_TIMEOUT" 0.3 TERM "$MARIADB_LOG" \
		"not healthy within ${MARIADB_TIMEOUT}s" mariadb_healthy
	env_set "SLUICE_MYSQL_URL=$MARIADB_URL"
	say_started mariadb "$MARIADB_PIDFILE" "127.0.0.1:$MARIADB_PORT" "$start"
}

svc_mariadb_down() {
	# SIGTERM: normal shutdown.
	stop_service mariadb mariadb_running_pid "$MARIADB_PIDFILE" TERM 60 SLUICE_MYSQL_URL
}

svc_mariadb_status() {
	show_status mariadb mariadb_running_pid mariadb_healthy "SLUICE_MYSQL_URL=$MARIADB_URL"
}

# ---------------------------------------------------------------- mongo
#
# A MongoDB stand-in, not mongod (no registry reachable here ships one):
# mongo-java-server (de.bwaldvogel, Maven Central) with its in-memory backend
# and oplog enabled, so change streams (resumeAfter/startAfter resume tokens,
# startAtOperationTime, fullDocument: updateLookup) work on single
# collections. No replica set, sessions, transactions, pre-images or
# updateDescription; data is lost when it stops. Run by
# scripts/mongo/SluiceMongo.java, compiled against jars cached in
# .services/mongo/libs. Wire protocol on 127.0.0.1:27019.

MONGO_PORT="${SERVICES_MONGO_PORT:-27019}"
MONGO_URL="mongodb://127.0.0.1:${MONGO_PORT}/?directConnection=true"
MONGO_TIMEOUT=60
MONGO_DIR="$STATE/mongo"
MONGO_LIBS="$MONGO_DIR/libs"
MONGO_CLASSES="$MONGO_DIR/classes"
MONGO_PIDFILE="$MONGO_DIR/pid"
MONGO_LOG="$MONGO_DIR/log"
MONGO_POM="$ROOT/scripts/mongo/pom.xml"
MONGO_MAIN="$ROOT/scripts/mongo/SluiceMongo.java"

mongo_running_pid() {
	# The classes path names this checkout: a stand-in started by another
	# clone on the same port is not ours to adopt or stop.
	running_pid "$MONGO_PIDFILE" "$MONGO_CLASSES:$MONGO_LIBS/* SluiceMongo $MONGO_PORT" "SluiceMongo $MONGO_PORT\$"
}

# mongo_healthy: the server logged that it listens and accepts connections
# (there is no mongosh here to send a ping).
mongo_healthy() {
	grep -q 'sluice-mongo: listening' "$MONGO_LOG" 2>/dev/null && port_open "$MONGO_PORT"
}

svc_mongo_up() {
	local start
	need_java jdk
	mkdir -p "$MONGO_DIR"

	if already_up mongo mongo_running_pid mongo_healthy "$MONGO_TIMEOUT" 0.3 "$MONGO_LOG" "127.0.0.1:$MONGO_PORT" \
		"SLUICE_MONGO_URL=$MONGO_URL" "SLUICE_MONGO_URI=$MONGO_URL"; then
		return 0
	fi
	rm -f "$MONGO_PIDFILE"
	ports_free mongo "$MONGO_PORT"

	start=$(now)
	java_resolve mongo "$MONGO_DIR" "$MONGO_POM" "$MONGO_MAIN"
	rotate_log "$MONGO_LOG"
	launch "$MONGO_PIDFILE" "$MONGO_LOG" java -Xmx256m "${JAVA_OPTS[@]}" \
		-cp "$MONGO_CLASSES:$MONGO_LIBS/*" SluiceMongo "$MONGO_PORT"
	await_start mongo "$MONGO_PIDFILE" "$MONGO_TIMEOUT" 0.3 TERM "$MONGO_LOG" \
		"not listening within ${MONGO_TIMEOUT}s" mongo_healthy
	env_set "SLUICE_MONGO_URL=$MONGO_URL" "SLUICE_MONGO_URI=$MONGO_URL"
	say_started mongo "$MONGO_PIDFILE" "127.0.0.1:$MONGO_PORT" "$start"
}

svc_mongo_down() {
	stop_service mongo mongo_running_pid "$MONGO_PIDFILE" TERM 30 SLUICE_MONGO_URL SLUICE_MONGO_URI
}

svc_mongo_status() {
	show_status mongo mongo_running_pid mongo_healthy "SLUICE_MONGO_URL=$MONGO_URL"
}

# ---------------------------------------------------------------- s3
#
# versitygw (Versity S3 Gateway, Apache-2.0), built from its Go module with the
# Go toolchain into .services/s3/bin (rebuilt only when S3_VGW_VERSION
# changes), posix backend on .services/s3/data: each bucket is a directory,
# each object a file, metadata in extended attributes (or, where the
# filesystem has none, in a sidecar directory .services/s3/meta). Single
# account mode with fixed dev credentials, region us-east-1, path-style
# addressing, plain HTTP on 127.0.0.1:19000. Tests create their own buckets.

S3_VGW_MODULE=github.com/versity/versitygw
S3_VGW_VERSION=v1.8.0
S3_PORT="${SERVICES_S3_PORT:-19000}"
S3_ENDPOINT="http://127.0.0.1:${S3_PORT}"
S3_ACCESS_KEY=sluice
S3_SECRET_KEY=sluice-dev-secret
S3_REGION=us-east-1
S3_TIMEOUT=60
S3_DIR="$STATE/s3"
S3_BIN="$S3_DIR/bin/versitygw"
S3_DATA="$S3_DIR/data"
S3_META="$S3_DIR/meta"
S3_PIDFILE="$S3_DIR/pid"
S3_LOG="$S3_DIR/log"

# s3_build: go install the pinned versitygw into .services/s3/bin, once per
# version (a stamp beside the binary).
s3_build() {
	local stamp="$S3_DIR/bin/.stamp" want="$S3_VGW_MODULE@$S3_VGW_VERSION"
	if [[ -x "$S3_BIN" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "s3: the go command is needed to build versitygw"
	log "s3: building versitygw $S3_VGW_VERSION with go install (first run only)"
	rm -rf "$S3_DIR/bin.tmp"
	mkdir -p "$S3_DIR/bin.tmp"
	# Outside the repo and with GOFLAGS cleared: the build must not see
	# Sluice's go.mod or a -mod flag meant for it.
	if ! (cd / && GOFLAGS='' GOBIN="$S3_DIR/bin.tmp" go install -trimpath -ldflags='-s -w' \
		"$S3_VGW_MODULE/cmd/versitygw@$S3_VGW_VERSION") >"$S3_DIR/build.log" 2>&1; then
		fail_with_log s3 "$S3_DIR/build.log" "go install $want failed"
	fi
	printf '%s\n' "$want" >"$S3_DIR/bin.tmp/.stamp"
	rm -rf "${S3_DIR:?}/bin"
	mv "$S3_DIR/bin.tmp" "$S3_DIR/bin"
}

# s3_xattrs: the data directory's filesystem takes user extended attributes
# (the posix backend's default metadata store).
s3_xattrs() {
	command -v python3 >/dev/null || return 1
	python3 - "$S3_DATA" <<'PY' 2>/dev/null
import os, sys
p = os.path.join(sys.argv[1], ".xattr-probe")
open(p, "w").close()
try:
    os.setxattr(p, "user.sluice", b"1")
    sys.exit(0 if os.getxattr(p, "user.sluice") == b"1" else 1)
finally:
    os.remove(p)
PY
}

s3_running_pid() {
	running_pid "$S3_PIDFILE" "posix $S3_DATA" "versitygw .*posix $S3_DATA\$"
}

# s3_healthy: a signed ListBuckets (SigV4 by curl) answers 200, so the
# credentials we publish are the ones the gateway takes.
s3_healthy() {
	curl -sf -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
		--user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		"$S3_ENDPOINT/"
}

S3_ENV=("SLUICE_S3_ENDPOINT=$S3_ENDPOINT" "SLUICE_S3_ACCESS_KEY=$S3_ACCESS_KEY" "SLUICE_S3_SECRET_KEY=$S3_SECRET_KEY")

svc_s3_up() {
	local start meta=()
	command -v curl >/dev/null || ensure_packages curl
	mkdir -p "$S3_DIR"

	if already_up s3 s3_running_pid s3_healthy "$S3_TIMEOUT" 0.2 "$S3_LOG" "$S3_ENDPOINT" "${S3_ENV[@]}"; then
		return 0
	fi
	rm -f "$S3_PIDFILE"
	ports_free s3 "$S3_PORT"

	start=$(now)
	s3_build
	mkdir -p "$S3_DATA"
	if ! s3_xattrs; then
		log "s3: $S3_DATA takes no user xattrs; object metadata goes to $S3_META"
		mkdir -p "$S3_META"
		meta=(--sidecar "$S3_META")
	fi
	rotate_log "$S3_LOG"
	# Credentials through the environment, not argv (ps shows argv).
	ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
		launch "$S3_PIDFILE" "$S3_LOG" "$S3_BIN" --port "127.0.0.1:$S3_PORT" --region "$S3_REGION" \
		--health /health --quiet posix "${meta[@]}" "$S3_DATA"
	await_start s3 "$S3_PIDFILE" "$S3_TIMEOUT" 0.2 TERM "$S3_LOG" \
		"ListBuckets did not answer within ${S3_TIMEOUT}s" s3_healthy
	env_set "${S3_ENV[@]}"
	say_started s3 "$S3_PIDFILE" "$S3_ENDPOINT" "$start"
}

svc_s3_down() {
	stop_service s3 s3_running_pid "$S3_PIDFILE" TERM 30 SLUICE_S3_ENDPOINT SLUICE_S3_ACCESS_KEY SLUICE_S3_SECRET_KEY
}

svc_s3_status() {
	show_status s3 s3_running_pid s3_healthy "SLUICE_S3_ENDPOINT=$S3_ENDPOINT SLUICE_S3_ACCESS_KEY=$S3_ACCESS_KEY"
}

# ---------------------------------------------------------------- opensearch
#
# OpenSearch 2.19 (Apache-2.0), one node, from Maven Central jars
# (scripts/opensearch/pom.xml) cached in .services/opensearch/libs, started by
# scripts/opensearch/SluiceOpenSearch.java (compiled into
# .services/opensearch/classes) with its HTTP layer and a few modules loaded
# from the classpath. No security plugin: plain HTTP, no authentication.
# HTTP on 127.0.0.1:19200, transport on 127.0.0.1:19201; data and logs under
# .services/opensearch. Java 17 runs nothing newer than 2.19.x.

OS_PORT="${SERVICES_ES_PORT:-19200}"
OS_TRANSPORT_PORT="${SERVICES_ES_TRANSPORT_PORT:-$((OS_PORT + 1))}"
OS_URL="http://127.0.0.1:${OS_PORT}"
OS_TIMEOUT=180
OS_HEAP_OPTS="-Xms512m -Xmx512m"
OS_DIR="$STATE/opensearch"
OS_LIBS="$OS_DIR/libs"
OS_CLASSES="$OS_DIR/classes"
OS_PIDFILE="$OS_DIR/pid"
OS_LOG="$OS_DIR/log"
OS_POM="$ROOT/scripts/opensearch/pom.xml"
OS_MAIN="$ROOT/scripts/opensearch/SluiceOpenSearch.java"

os_running_pid() {
	running_pid "$OS_PIDFILE" "SluiceOpenSearch $OS_DIR " "SluiceOpenSearch $OS_DIR [0-9]+ [0-9]+\$"
}

# os_healthy: cluster health is yellow or green.
os_healthy() {
	local body
	body="$(curl -sf --max-time 10 "$OS_URL/_cluster/health?wait_for_status=yellow&timeout=5s")" || return 1
	[[ "$body" == *'"status":"green"'* || "$body" == *'"status":"yellow"'* ]]
}

# os_ready: the node logged that it is up (after it set its cluster
# defaults) and its health is yellow or green.
os_ready() {
	grep -q 'sluice-opensearch: listening' "$OS_LOG" 2>/dev/null && os_healthy
}

svc_opensearch_up() {
	local start
	need_java jdk
	command -v curl >/dev/null || ensure_packages curl
	mkdir -p "$OS_DIR"

	if already_up opensearch os_running_pid os_ready "$OS_TIMEOUT" 0.5 "$OS_LOG" "$OS_URL" "SLUICE_ES_URL=$OS_URL"; then
		return 0
	fi
	rm -f "$OS_PIDFILE"
	ports_free opensearch "$OS_PORT" "$OS_TRANSPORT_PORT"

	start=$(now)
	java_resolve opensearch "$OS_DIR" "$OS_POM" "$OS_MAIN"
	rotate_log "$OS_LOG"
	mkdir -p "$OS_DIR/tmp"
	# JVM options after the distribution's jvm.options, less what a 512 MiB
	# test node does not need (G1 tuning, heap dumps, GC logs).
	# shellcheck disable=SC2086 # word-split heap options on purpose
	launch "$OS_PIDFILE" "$OS_LOG" java $OS_HEAP_OPTS -XX:+UseSerialGC "${JAVA_OPTS[@]}" \
		-XX:-OmitStackTraceInFastThrow -Dfile.encoding=UTF-8 \
		-Djava.locale.providers=SPI,COMPAT -Djna.nosys=true -Djava.io.tmpdir="$OS_DIR/tmp" \
		-Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
		-Dio.netty.recycler.maxCapacityPerThread=0 \
		-Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
		-Dlog4j2.configurationFile="$ROOT/scripts/opensearch/log4j2.xml" \
		-cp "$OS_CLASSES:$OS_LIBS/*" SluiceOpenSearch "$OS_DIR" "$OS_PORT" "$OS_TRANSPORT_PORT"
	await_start opensearch "$OS_PIDFILE" "$OS_TIMEOUT" 0.5 TERM "$OS_LOG" \
		"not healthy within ${OS_TIMEOUT}s" os_ready
	env_set "SLUICE_ES_URL=$OS_URL"
	say_started opensearch "$OS_PIDFILE" "$OS_URL" "$start"
}

svc_opensearch_down() {
	# SIGTERM: the shutdown hook closes the node.
	stop_service opensearch os_running_pid "$OS_PIDFILE" TERM 60 SLUICE_ES_URL
}

svc_opensearch_status() {
	show_status opensearch os_running_pid os_healthy "SLUICE_ES_URL=$OS_URL"
}

# ---------------------------------------------------------------- main

usage() {
	cat >&2 <<EOF
usage: scripts/services.sh up|down|status [name...]
       scripts/services.sh env
known services: ${KNOWN_SERVICES[*]}
EOF
	exit 2
}

# check_names NAME...: every name is known.
check_names() {
	local n k ok
	for n in "$@"; do
		ok=0
		for k in "${KNOWN_SERVICES[@]}"; do [[ "$n" == "$k" ]] && ok=1; done
		((ok)) || die "unknown service '$n' (known: ${KNOWN_SERVICES[*]})"
	done
}

main() {
	(($# >= 1)) || usage
	local cmd="$1"
	shift
	case "$cmd" in
	up | down | status) ;;
	env)
		[[ -f "$ENV_FILE" ]] || die "no $ENV_FILE yet; run: scripts/services.sh up"
		cat "$ENV_FILE"
		return 0
		;;
	-h | --help | help) usage ;;
	*) die "unknown command '$cmd' (want up, down, status or env)" ;;
	esac

	local names=("$@")
	((${#names[@]})) || names=("${KNOWN_SERVICES[@]}")
	check_names "${names[@]}"

	mkdir -p "$STATE"
	# One `up`/`down` at a time (parallel test runs, several shells).
	exec 9>"$STATE/.lock"
	if ! flock -w 300 9; then
		die "another services.sh holds $STATE/.lock for over 300s"
	fi

	local n
	if [[ "$cmd" == down ]]; then
		# Stop in reverse order of start.
		local i
		for ((i = ${#names[@]} - 1; i >= 0; i--)); do "svc_${names[i]}_down"; done
	else
		for n in "${names[@]}"; do "svc_${n}_${cmd}"; done
	fi
}

main "$@"
