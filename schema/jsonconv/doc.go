// Package jsonconv is a byte-for-byte port of Kafka Connect's
// org.apache.kafka.connect.json.JsonConverter (Kafka 3.7+/4.x, Jackson 2 with
// its default ObjectMapper) for Sluice's event model.
//
// With schemas.enable=true a key or value is written as
// {"schema":{...},"payload":{...}}; with false only the payload. A null
// record value (a tombstone) encodes to a nil slice, Kafka's null value.
//
// Exactness notes, all checked against the Connect and Jackson sources:
//
//   - Schema JSON keys come in JsonConverter.asJsonSchema order: "type",
//     then "items" (array) / "keys","values" (map) / "fields" (struct), then
//     "optional", "name", "version", "doc", "parameters", "default"; a struct
//     field's schema gets "field" appended last.
//   - Payload struct keys follow schema field order.
//   - Strings are escaped as Jackson does: \" \\ \b \t \n \f \r, other
//     control characters as \u00XX with upper-case hex; everything else,
//     including '/', '<', U+2028 and non-ASCII, is written raw as UTF-8.
//     Invalid UTF-8 (impossible in a Java string) is written as U+FFFD.
//   - bytes are standard base64 with padding and no line breaks.
//   - float32/float64 are written as Java's Float.toString/Double.toString
//     of JDK 19 and later (shortest round-tripping digits, "1.0", "1.0E7",
//     "1.0E-4", "4.9E-324"); NaN and infinities as the JSON strings "NaN",
//     "Infinity", "-Infinity" (Jackson's WRITE_NAN_AS_STRINGS). Debezium 3.x
//     runs on Java 21, so older JDKs' occasional non-shortest output is not
//     reproduced.
//   - Decimal is base64 of the unscaled two's-complement bytes by default
//     (decimal.format=BASE64) or a JSON number as BigDecimal.toString
//     (decimal.format=NUMERIC, e.g. 1.50, 1E-10, 1E+3).
//   - Date, Time and Timestamp are their integer representations.
//   - Maps with string keys are objects; other maps arrays of [key,value].
//   - A null value with a schema default is replaced by the default when
//     replace.null.with.default is true (the Connect default).
//
// Decoding follows JsonConverter.toConnectData: it needs the envelope when
// schemas are enabled and infers a schemaless value otherwise (integers as
// int64, other numbers as float64, objects as []event.MapEntry in document
// order). Unlike Jackson, trailing content after the JSON value is an error.
package jsonconv
