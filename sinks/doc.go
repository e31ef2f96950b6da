// Package sinks is the home of Sluice's sink connectors, one sub-package per
// target (sinks/jdbc, sinks/elasticsearch, sinks/s3), run by a shared task
// layer that owns the consumer group, commits offsets only after the target
// confirms a batch durable, retries, and routes poison records to a dead
// letter queue. Sinks never import sources.
package sinks
