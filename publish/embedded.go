package publish

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedCluster is an in-process Kafka-compatible broker (franz-go's
// kfake), selected with bootstrap.servers: [embedded]. It keeps everything in
// memory: it is NOT durable, loses all records when the process exits, and is
// meant for demos and tests only.
type EmbeddedCluster struct {
	c *kfake.Cluster
}

// StartEmbedded starts an in-process single-broker cluster listening on a
// random loopback port. Unlike New, it starts goroutines (the broker's);
// stop them with Close.
func StartEmbedded() (*EmbeddedCluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return &EmbeddedCluster{c: c}, nil
}

// Addrs returns the broker addresses (host:port) to connect to.
func (e *EmbeddedCluster) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker and drops its data.
func (e *EmbeddedCluster) Close() { e.c.Close() }
