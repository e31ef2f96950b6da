package event

import "time"

// The schemas of Debezium's heartbeat records, common to its connectors
// (SchemaFactory.heartbeatKeySchema and heartbeatValueSchema): the key
// names the logical server, the value holds the time it was sent.
var (
	heartbeatKeySchema = StructOf("io.debezium.connector.common.ServerNameKey",
		NewField("serverName", String())).WithVersion(1)
	heartbeatValueSchema = StructOf("io.debezium.connector.common.Heartbeat",
		NewField("ts_ms", Int64())).WithVersion(1)
)

// HeartbeatTopic returns Debezium's default heartbeat topic,
// "__debezium-heartbeat.<prefix>".
func HeartbeatTopic(prefix string) string { return "__debezium-heartbeat." + prefix }

// Heartbeat returns a heartbeat record of the connector with topic prefix
// prefix, carrying pos: a source emits one so that its stored position
// advances while nothing it captures changes. Its value is {ts_ms}, which
// Event.Value fills from the timestamp.
func Heartbeat(prefix string, now time.Time, pos Position) Event {
	e := Event{
		Topic:       HeartbeatTopic(prefix),
		Key:         NewStruct(heartbeatKeySchema, prefix),
		ValueSchema: heartbeatValueSchema,
		Position:    pos,
	}
	e.SetTimestamp(now)
	return e
}
