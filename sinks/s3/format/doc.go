// Package format holds the S3 sink's object formats: it turns the records
// of one object into that object's bytes as Confluent's S3 sink
// (kafka-connect-storage-cloud) writes them. The sink core (sinks/s3)
// decides which records go into which object, names the objects and
// uploads them; it picks a Format with New (format.class), NewKeys
// (store.kafka.keys, keys.format.class) or NewHeaders (store.kafka.headers,
// headers.format.class), starts each object with Format.NewWriter and ends
// it with Writer.Close.
//
// # Determinism
//
// The same records always give the same bytes: exactly-once is proven by
// comparing the objects of a run with crashes with those of a run without.
// Gzip is framed as Java's GZIPOutputStream frames it (a fixed 10-byte
// header: no name, no time, no extra flags, OS unknown); the Avro sync
// marker, random in Java, is the MD5 of the view and the object's first
// record's topic, partition and offset; Parquet files carry a fixed
// created_by and no times. Compressed bytes are Go's, not zlib's or
// snappy-java's: the same for the same records, but not Java's bytes.
//
// # Formats
//
// JSON (io.confluent.connect.s3.format.json.JsonFormat, ".json", ".json.gz"
// with s3.compression.type gzip): one value per line, "\n" after each. A
// struct is written by schema/jsonconv as JsonConverter with
// schemas.enable=false and decimal.format from json.decimal.format (BASE64
// by default: a Decimal is the base64 of its unscaled bytes; NUMERIC: a
// number); Date, Time and Timestamp are their integers (days, millis of
// the day, epoch millis). Anything else (a primitive key, a schemaless map,
// a null value) is written as Jackson's ObjectMapper writes the Java
// object Connect holds: null as null, a top-level Decimal as a plain
// number, a top-level Date/Time/Timestamp (a java.util.Date) as epoch
// millis. Structs nested in such values are written as JsonConverter
// writes them (Jackson would dump the Java bean).
//
// Avro (io.confluent.connect.s3.format.avro.AvroFormat, ".avro"): an Avro
// object container file. The writer schema is schema/avroconv's AvroSchema
// of the first record's schema, the schema Confluent's AvroData builds
// (connect.name, connect.version, connect.parameters, ...) written as
// Avro's Schema.toString; values are encoded by avroconv's converter.
// avro.codec null (default), deflate (raw deflate, level 6), snappy (with
// the big-endian CRC-32 Avro appends) or zstandard (level 3, no checksum);
// bzip2 and xz are not supported. A block is written every 64,000
// uncompressed bytes (DataFileWriter's sync interval) and at Close. The
// metadata map holds avro.schema then avro.codec, the order Java's HashMap
// iterates them.
//
// Parquet (io.confluent.connect.s3.format.parquet.ParquetFormat,
// ".snappy.parquet" by default; parquet.codec none gives ".parquet", gzip
// ".gz.parquet", zstd ".zstd.parquet", brotli ".br.parquet", lz4_raw
// ".lz4raw.parquet"; Hadoop's lz4 and lzo are not supported), written with
// github.com/parquet-go/parquet-go. Confluent writes the Avro schema above
// through parquet-avro, so the Parquet schema is parquet-avro's mapping of
// it: the message is named after the record's full name; fields in schema
// order; a struct is a group; an optional schema is an optional field, a
// required one a required field; int8/int16/int32 are INT32, int64 INT64,
// float32 FLOAT, float64 DOUBLE, boolean BOOLEAN, string BINARY (STRING),
// bytes BINARY; Decimal is BINARY DECIMAL(precision, scale) with the
// precision from connect.decimal.precision or AvroData's default 64;
// Date is INT32 DATE, Time INT32 TIME(MILLIS, UTC), Timestamp INT64
// TIMESTAMP(MILLIS, UTC). Debezium's semantic types (io.debezium.time.*,
// io.debezium.data.*) have no Avro logical type in AvroData and so stay
// their underlying INT32/INT64/BINARY (STRING) columns, exactly as in
// Confluent's files. An array is parquet-avro's old two-level list
// (group (LIST) { repeated <item> array; }) unless the schema has an array
// of optional items anywhere, in which case Confluent switches the whole
// file to the three-level list (group (LIST) { repeated group list {
// <item> element; } }); a map with string keys is group (MAP) { repeated
// group key_value { key; value; } }, other maps are lists of
// io.confluent.connect.avro.MapEntry {key, value} groups. The footer's
// key/value metadata carries parquet.avro.schema (the Avro schema) and
// writer.model.name=avro as parquet-avro writes them. Pages are 64 KiB
// (Confluent's PAGE_SIZE) and every column but booleans is dictionary
// encoded, as parquet-mr does with withDictionaryEncoding(true). The
// bytes differ from parquet-mr's (page layout, statistics, created_by);
// the schema and the values do not.
//
// ByteArray (io.confluent.connect.s3.format.bytearray.ByteArrayFormat,
// format.bytearray.extension, default ".bin", plus ".gz" with gzip): each
// value's bytes followed by format.bytearray.separator (default "\n").
// Values must be bytes (ByteArrayConverter).
//
// # Keys and headers
//
// NewKeys and NewHeaders write Confluent's KeyRecordView and
// HeaderRecordView into side files named like the value object with
// ".keys" or ".headers" before the extension (…+0000000000.keys.avro).
// A key file holds each record's key; Parquet wraps it in a struct
// RecordKey {key}. A header file holds per record an array of {key,
// value} structs, each value converted to a string as Connect's
// Values.convertToString does; JSON and Parquet wrap the array in a struct
// RecordHeaders {headers}. A null key or a record without headers is an
// error, as in Confluent (the core should check before writing any of the
// three files so that they stay aligned).
//
// # Schemas and tombstones
//
// A Writer returns an error wrapping ErrSchemaChanged, writing nothing,
// when a record's value (or key, for key files) schema differs from the
// object's first: Confluent's sink rotates on any schema change
// (schema.compatibility NONE), whatever the format. Avro and Parquet need
// a schema: schemaless data fails with ErrNoSchema naming the record, as
// Confluent fails. A null value (a tombstone) is never a schema change;
// with behavior.on.null.values=write the core may hand it to a Writer:
// JSON writes the line "null" as Jackson does; Avro writes a null only if
// the object's schema is optional and otherwise fails, as does Parquet
// (Confluent fails there too) and ByteArray.
package format
