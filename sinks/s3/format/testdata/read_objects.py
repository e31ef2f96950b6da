"""Independent reader of the S3 sink's objects for format tests.

usage: read_objects.py json|avro|parquet FILE

Prints one JSON document: {"records": [...], "meta": {...}}. Values are
normalised so that Go can compare them with the Connect data it wrote:
Decimal -> {"$dec": str}, datetime -> {"$ts": epoch millis}, date ->
{"$date": days since epoch}, time -> {"$time": millis of day}, bytes ->
{"$b64": base64}, and pyarrow's map lists of (key, value) tuples -> dicts.
"""
import base64
import datetime
import decimal
import gzip
import json
import sys

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def norm(v):
    if isinstance(v, decimal.Decimal):
        return {"$dec": str(v)}
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            raise SystemExit("naive datetime: timestamp not adjusted to UTC: %r" % (v,))
        return {"$ts": (v - EPOCH) // datetime.timedelta(milliseconds=1)}
    if isinstance(v, datetime.date):
        return {"$date": (v - datetime.date(1970, 1, 1)).days}
    if isinstance(v, datetime.time):
        ms = ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
        return {"$time": ms}
    if isinstance(v, (bytes, bytearray)):
        return {"$b64": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {k: norm(x) for k, x in v}
        return [norm(x) for x in v]
    if isinstance(v, tuple):
        return [norm(x) for x in v]
    return v


def main():
    kind, path = sys.argv[1], sys.argv[2]
    meta = {}
    if kind == "json":
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read().decode("utf-8")
        if not data.endswith("\n"):
            raise SystemExit("json object does not end with a line separator")
        records = [json.loads(line) for line in data.split("\n")[:-1]]
    elif kind == "avro":
        import fastavro

        with open(path, "rb") as f:
            r = fastavro.reader(f)
            meta["codec"] = r.codec
            meta["schema"] = r.writer_schema
            records = [norm(x) for x in r]
    elif kind == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        meta["arrow_schema"] = str(pf.schema_arrow)
        meta["parquet_schema"] = str(pf.schema)
        meta["codec"] = pf.metadata.row_group(0).column(0).compression if pf.metadata.num_row_groups else None
        meta["kv"] = {k.decode(): v.decode() for k, v in (pf.metadata.metadata or {}).items()}
        records = [norm(x) for x in pf.read().to_pylist()]
    else:
        raise SystemExit("unknown kind " + kind)
    json.dump({"records": records, "meta": meta}, sys.stdout)


main()
