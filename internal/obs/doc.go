// Package obs holds Sluice's observability plumbing: the slog logger and its
// stable attribute keys, a per-process Prometheus registry, and the HTTP
// server that exposes /metrics, /healthz and /readyz (and, mounted by other
// packages, the Kafka Connect REST API on the same address).
//
// Nothing here is global: the logger, the [Metrics] registry and the
// [Server] are created once by the daemon and passed to whoever needs them.
// Never log secrets or row values at info level.
package obs
