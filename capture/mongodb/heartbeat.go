package mongodb

import (
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Debezium's heartbeat record schemas (the common ServerNameKey and
// Heartbeat records every Debezium connector writes).
var (
	heartbeatKeySchema = event.StructOf("io.debezium.connector.common.ServerNameKey",
		event.NewField("serverName", event.String())).WithVersion(1)
	heartbeatValueSchema = event.StructOf("io.debezium.connector.common.Heartbeat",
		event.NewField("ts_ms", event.Int64())).WithVersion(1)
)

// HeartbeatTopic returns Debezium's default heartbeat topic,
// "__debezium-heartbeat.<topic.prefix>".
func HeartbeatTopic(prefix string) string { return "__debezium-heartbeat." + prefix }

// heartbeatEvent returns a heartbeat record carrying pos; its value is
// {ts_ms}, which Event.Value fills from TsMs. Heartbeats let the position
// advance while the captured collections are quiet: once acknowledged, a
// restart resumes from the newest resume tokens the server handed out
// (post-batch resume tokens), not from an old event that the oplog may no
// longer hold.
func heartbeatEvent(prefix string, now time.Time, pos event.Position) event.Event {
	e := event.Event{
		Topic:       HeartbeatTopic(prefix),
		Key:         event.NewStruct(heartbeatKeySchema, prefix),
		ValueSchema: heartbeatValueSchema,
		Position:    pos,
	}
	e.SetTimestamp(now)
	return e
}
