package daemon

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name       string
		limit      int64
		buffer     int
		sources    int
		want       int64
		wantRaised bool
	}{
		{"default", DefaultMemoryLimit, 32 * mib, 1, DefaultMemoryLimit, false},
		{"off", 0, 32 * mib, 1, 0, false},
		{"raised for a 64 MiB buffer", DefaultMemoryLimit, 64 * mib, 1, 96 * mib, true},
		{"raised for three sources", DefaultMemoryLimit, 32 * mib, 3, 128 * mib, true},
		{"no sources counts as one", 64 * mib, 32 * mib, 0, 64 * mib, false},
		{"just below the floor", 64*mib - 1, 32 * mib, 1, 64 * mib, true},
		{"large enough", 1 << 30, 64 * mib, 2, 1 << 30, false},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Memory.Limit = tt.limit
		cfg.Kafka.MaxBufferedBytes = tt.buffer
		cfg.Sources = make([]SourceConfig, tt.sources)
		got, raised := memoryLimit(cfg)
		if got != tt.want || raised != tt.wantRaised {
			t.Errorf("%s: memoryLimit = %d, %v; want %d, %v", tt.name, got, raised, tt.want, tt.wantRaised)
		}
	}
}

// TestSetMemoryLimit changes the process's memory limit: not parallel.
func TestSetMemoryLimit(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	before := debug.SetMemoryLimit(-1)
	cfg := DefaultConfig()

	t.Setenv("GOMEMLIMIT", "")
	restore := setMemoryLimit(cfg, log)
	if got := debug.SetMemoryLimit(-1); got != DefaultMemoryLimit {
		t.Errorf("limit while running = %d, want %d", got, DefaultMemoryLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after restore = %d, want the previous %d", got, before)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	restore = setMemoryLimit(cfg, log)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set, limit = %d, want it left at %d", got, before)
	}
	restore()
}
