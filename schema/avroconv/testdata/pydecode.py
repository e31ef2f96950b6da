#!/usr/bin/env python3
"""Decode Confluent wire-format Avro records with fastavro (independent of hamba/avro).

Install: python3 -m venv .cache/avroconv-venv && .cache/avroconv-venv/bin/pip install fastavro==1.12.1

stdin: JSON list of {"schema": "<avro schema json>", "id": <int>, "data": "<hex>"}
stdout: JSON list of decoded values; bytes as {"$bytes": "<hex>"}, floats as
{"$float": repr} so the Go side compares them exactly.
"""
import io
import json
import struct
import sys

import fastavro


def plain(v):
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, float):
        return {"$float": repr(v)}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, tuple):  # fastavro's (branch, value) never appears with return_record_name off
        return [plain(x) for x in v]
    return v


def raw(schema):
    """Drops logicalType so decimals, dates and timestamps stay their raw Avro values."""
    if isinstance(schema, dict):
        return {k: raw(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [raw(x) for x in schema]
    return schema


def main():
    out = []
    for rec in json.load(sys.stdin):
        data = bytes.fromhex(rec["data"])
        magic, schema_id = struct.unpack(">bI", data[:5])
        if magic != 0 or schema_id != rec["id"]:
            raise SystemExit(f"bad header: magic {magic} id {schema_id}")
        schema = fastavro.parse_schema(raw(json.loads(rec["schema"])), _write_hint=False)
        buf = io.BytesIO(data[5:])
        value = fastavro.schemaless_reader(buf, schema, None)
        if buf.read():
            raise SystemExit("trailing bytes after the record")
        out.append(plain(value))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
