#!/usr/bin/env bash
# make demo: start Postgres (scripts/services.sh), build Sluice and run
# `sluice demo`, which recreates the sluice_demo database, captures it into
# Kafka and prints every change event. Kafka is the in-process embedded
# broker, or the brokers in SLUICE_KAFKA_BROKERS when that is set in the
# environment. Exits non-zero unless every expected event arrived.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GO="${GO:-go}"

# Read before services.sh writes .services.env: only the caller's choice of
# brokers counts, a Kafka left running by the tests does not.
brokers="${SLUICE_KAFKA_BROKERS:-}"

scripts/services.sh up postgres
pg_url="${SLUICE_PG_URL:-$(sed -n 's/^SLUICE_PG_URL=//p' .services.env)}"
[[ -n "$pg_url" ]] || { echo "demo: no SLUICE_PG_URL in .services.env" >&2; exit 1; }

mkdir -p bin
"$GO" build -o bin/sluice ./cmd/sluice
exec bin/sluice demo -c examples/demo.yaml -pg "$pg_url" -brokers "$brokers"
