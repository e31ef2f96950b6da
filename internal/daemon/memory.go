package daemon

import (
	"log/slog"

	"os"
	"runtime/debug"
)

// memoryHeadroom is what the daemon needs beyond the records awaiting acks
// (converters, the Kafka client's request buffers, the runtime) and room
// for garbage, so that the collector does not run back to back.
const memoryHeadroom = 32 << 20

// memoryLimit returns the soft memory limit to set for cfg (see
// MemoryConfig.Limit), or 0 for none, and whether it raised the configured
// one to fit the sources' Kafka buffers.
func memoryLimit(cfg Config) (limit int64, raised bool) {
	if cfg.Memory.Limit <= 0 {
		return 0, false
	}
	floor := int64(cfg.Kafka.MaxBufferedBytes)*int64(max(1, len(cfg.Sources))) + memoryHeadroom
	if cfg.Memory.Limit < floor {
		return floor, true
	}
	return cfg.Memory.Limit, false
}

// setMemoryLimit applies cfg's memory limit to the process, unless the
// GOMEMLIMIT environment variable set one, and returns a func restoring the
// previous limit. The limit is process-wide: an embedding program that
// manages it itself passes WithoutMemoryLimit.
func setMemoryLimit(cfg Config, log *slog.Logger) (restore func()) {
	limit, raised := memoryLimit(cfg)
	if limit == 0 {
		return func() {}
	}
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Info("memory.limit not applied: GOMEMLIMIT is set", "GOMEMLIMIT", env)
		return func() {}
	}
	if raised {
		log.Warn("memory.limit raised to leave room for the Kafka buffers (kafka.buffer.memory per source, plus 32 MiB)",
			"configured", cfg.Memory.Limit, "limit", limit)
	}
	prev := debug.SetMemoryLimit(limit)
	log.Debug("soft memory limit set", "limit", limit)
	return func() {
		// Put back what was there, unless someone changed it meanwhile.
		if cur := debug.SetMemoryLimit(-1); cur == limit {
			debug.SetMemoryLimit(prev)
		}
	}
}
