#!/usr/bin/env bash
# pyenv.sh — the Python environment independent readers in the end-to-end
# tests use: Confluent's Python client (SchemaRegistryClient +
# AvroDeserializer) and what its schema-registry and Avro modules import, to
# read topics; boto3 to read what the S3 sink wrote, fastavro and pyarrow to
# decode its Avro and Parquet objects. Idempotent: a venv under .cache/pyenv
# whose stamp matches the pinned list is left alone. pip only.
#
#   scripts/pyenv.sh          # create or update, print the venv's python
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.cache/pyenv"

# Pinned: confluent-kafka's wheels bundle librdkafka; its schema_registry
# package imports httpx, attrs, cachetools and authlib, its avro serde fastavro.
# boto3 moves in step with botocore (same version) and s3transfer; fastavro
# reads snappy Avro blocks through cramjam, zstandard ones through zstandard.
pins=(
  confluent-kafka==2.12.2
  fastavro==1.12.1
  requests==2.32.5
  attrs==25.4.0
  cachetools==6.2.1
  httpx==0.28.1
  authlib==1.6.5
  boto3==1.44.5
  botocore==1.44.5
  s3transfer==0.19.3
  pyarrow==26.0.1
  cramjam==2.14.0
  zstandard==0.25.0
)

imports='import confluent_kafka.schema_registry.avro, fastavro, boto3, pyarrow.parquet, cramjam, zstandard'

stamp="$venv/.sluice-pins"
want=$(printf '%s\n' "${pins[@]}")
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
  "$venv/bin/python" -c "$imports" 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi

python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check -q "${pins[@]}" >&2
"$venv/bin/python" -c "$imports" >&2
printf '%s\n' "$want" >"$stamp"
echo "$venv/bin/python"
