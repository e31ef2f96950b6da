"""Read an Avro topic written by Sluice as a Confluent consumer would.

Usage: avro_consume.py BROKERS REGISTRY_URL TOPIC COUNT

Consumes COUNT records of TOPIC from the start with confluent-kafka's
Consumer, deserializes keys and values with its AvroDeserializer over a
SchemaRegistryClient, and prints one JSON line per record:
{"offset", "key_id", "value_id", "key", "value"} where *_id is the schema id
the record carries (null for a null key or tombstone).

Values are printed as Kafka Connect's JsonConverter (schemas.enable=false)
writes the same data, so the Go test can compare them with Sluice's JSON
topic: Avro bytes become base64 text and Avro decimals (Python Decimal) the
base64 of their unscaled two's-complement bytes, which is how Connect's JSON
converter writes Decimal. Those are the only representation differences.
"""
import base64
import decimal
import json
import struct
import sys
import time

from confluent_kafka import Consumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def unscaled_bytes(d: decimal.Decimal) -> bytes:
    sign, digits, exp = d.as_tuple()
    n = int("".join(map(str, digits)) or "0")
    if sign:
        n = -n
    # Java's BigInteger.toByteArray: minimal two's complement, at least 1 byte.
    length = max(1, (n + (n < 0)).bit_length() // 8 + 1)
    return n.to_bytes(length, "big", signed=True)


def as_connect_json(v):
    if isinstance(v, dict):
        return {k: as_connect_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [as_connect_json(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, decimal.Decimal):
        return base64.b64encode(unscaled_bytes(v)).decode()
    return v


def schema_id(data):
    if data is None:
        return None
    return struct.unpack(">bI", data[:5])[1]


def main():
    brokers, url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    registry = SchemaRegistryClient({"url": url})
    deser = AvroDeserializer(registry)
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "avro-e2e-%d" % time.time_ns(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    deadline = time.time() + 60
    got = 0
    try:
        while got < count:
            if time.time() > deadline:
                sys.exit("timed out after %d of %d records" % (got, count))
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue  # not created yet: Sluice creates it on its first record
                sys.exit("consume: %s" % msg.error())
            k, v = msg.key(), msg.value()
            key = deser(k, SerializationContext(topic, MessageField.KEY)) if k is not None else None
            value = deser(v, SerializationContext(topic, MessageField.VALUE)) if v is not None else None
            print(json.dumps({
                "offset": msg.offset(),
                "key_id": schema_id(k),
                "value_id": schema_id(v),
                "key": as_connect_json(key),
                "value": as_connect_json(value),
            }), flush=True)
            got += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
