package mongodb

import "github.com/sluice-cdc/sluice/event"

// HeartbeatTopic returns Debezium's default heartbeat topic,
// "__debezium-heartbeat.<topic.prefix>".
//
// Heartbeats (event.Heartbeat) let the position advance while the captured
// collections are quiet: once acknowledged, a restart resumes from the
// newest resume tokens the server handed out (post-batch resume tokens),
// not from an old event that the oplog may no longer hold.
func HeartbeatTopic(prefix string) string { return event.HeartbeatTopic(prefix) }
