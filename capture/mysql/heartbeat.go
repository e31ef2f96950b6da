package mysql

import (
	"context"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// HeartbeatTopic returns the topic heartbeats go to,
// "__debezium-heartbeat.<prefix>" as in Debezium.
func HeartbeatTopic(prefix string) string { return event.HeartbeatTopic(prefix) }

// idle reports whether the stream is between transactions with nothing
// waiting to be emitted: a position taken now is a clean resume point.
func (st *streamer) idle() bool {
	return st.gtid == "" && !st.inTx && len(st.pending) == 0
}

// heartbeat emits a heartbeat record carrying the current resume point:
// every transaction read so far, and a partly emitted transaction still to
// be skipped after a restart. It must only be called while idle. Besides
// showing liveness, it moves the stored position past transactions of
// tables that are not captured, so a restart does not read them again.
func (st *streamer) heartbeat(ctx context.Context, now time.Time, emit func(context.Context, event.Batch) error) error {
	p := position{Flavor: st.flavor, GTIDs: st.done.String(), File: st.lastFile, Pos: st.lastPos, Snap: st.filterProgress()}
	if st.skipTx != "" {
		p.Tx, p.N = st.skipTx, st.skipN
	}
	e := event.Heartbeat(st.s.opts.TopicPrefix, now, p.encode())
	return emit(ctx, event.Batch{e})
}
