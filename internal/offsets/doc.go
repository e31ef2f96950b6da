// Package offsets stores each source's last confirmed position in standalone
// mode, in one local JSON file (Kafka Connect's FileOffsetBackingStore plays
// this role for Debezium embedded).
//
// Positions are opaque bytes keyed by a string: the source name for the
// daemon's pipelines; for the Connect runtime, one key per source partition
// in Kafka Connect's form (["<connector>",{<partition>}]), listed with
// Entries. Every Save or SaveAll rewrites the whole file atomically: the new content goes to a temporary file in the same
// directory, which is fsynced, renamed over the old file, and the directory
// is fsynced. A crash at any point leaves either the old or the new file,
// never a mix; a leftover temporary file is ignored (and removed by the next
// Save or Open).
package offsets
