package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Log levels beyond slog's four, for Kafka Connect's level names.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
	LevelOff   = slog.Level(1 << 20)
)

// RootLogger is the name of the logger every other inherits its level from
// until set.
const RootLogger = "root"

// LoggerLevel is one entry of GET /admin/loggers.
type LoggerLevel struct {
	Level string `json:"level"`
	// LastModified is epoch milliseconds of the last change through the
	// API, nil before.
	LastModified *int64 `json:"last_modified"`
}

// Loggers is a set of named slog levels with log4j's hierarchy: setting the
// level of "a.b" sets "a.b" and every logger below it ("a.b.c").
type Loggers struct {
	mu      sync.Mutex
	handler slog.Handler
	levels  map[string]*loggerVar
	now     func() time.Time
}

type loggerVar struct {
	level    slog.LevelVar
	modified *int64
}

// NewLoggers returns loggers writing to h, the root at level root.
func NewLoggers(h slog.Handler, root slog.Level) *Loggers {
	l := &Loggers{handler: h, levels: map[string]*loggerVar{}, now: time.Now}
	v := &loggerVar{}
	v.level.Set(root)
	l.levels[RootLogger] = v
	return l
}

// Logger returns the slog.Logger named name (created at its nearest
// ancestor's level), whose records carry logger=name.
func (l *Loggers) Logger(name string) *slog.Logger {
	l.mu.Lock()
	v := l.get(name)
	l.mu.Unlock()
	return slog.New(&levelHandler{inner: l.handler, level: &v.level}).With("logger", name)
}

// get returns the variable of name, creating it from its ancestor; mu held.
func (l *Loggers) get(name string) *loggerVar {
	if v, ok := l.levels[name]; ok {
		return v
	}
	v := &loggerVar{}
	v.level.Set(l.inherited(name))
	l.levels[name] = v
	return v
}

func (l *Loggers) inherited(name string) slog.Level {
	for n := name; ; {
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			return l.levels[RootLogger].level.Level()
		}
		n = n[:i]
		if v, ok := l.levels[n]; ok {
			return v.level.Level()
		}
	}
}

// All returns every logger's level.
func (l *Loggers) All() map[string]LoggerLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]LoggerLevel, len(l.levels))
	for n, v := range l.levels {
		out[n] = LoggerLevel{Level: LevelName(v.level.Level()), LastModified: v.modified}
	}
	return out
}

// Get returns one logger's level.
func (l *Loggers) Get(name string) (LoggerLevel, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.levels[name]
	if !ok {
		return LoggerLevel{}, false
	}
	return LoggerLevel{Level: LevelName(v.level.Level()), LastModified: v.modified}, true
}

// Set sets the level of name and of the loggers below it, creating name if
// needed, and returns the names changed, sorted.
func (l *Loggers) Set(name, level string) ([]string, error) {
	lv, ok := ParseLevel(level)
	if !ok {
		return nil, notFound("invalid log level '%s'.", level)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UnixMilli()
	l.get(name)
	var changed []string
	for _, n := range slices.Sorted(maps.Keys(l.levels)) {
		if n == name || name == RootLogger || strings.HasPrefix(n, name+".") {
			v := l.levels[n]
			v.level.Set(lv)
			v.modified = &now
			changed = append(changed, n)
		}
	}
	return changed, nil
}

// ParseLevel reads a Kafka Connect (log4j) level name.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(s) {
	case "TRACE":
		return LevelTrace, true
	case "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN":
		return slog.LevelWarn, true
	case "ERROR":
		return slog.LevelError, true
	case "FATAL":
		return LevelFatal, true
	case "OFF":
		return LevelOff, true
	}
	return 0, false
}

// LevelName is the log4j name of a level.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelOff:
		return "OFF"
	case l >= LevelFatal:
		return "FATAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	case l >= slog.LevelDebug:
		return "DEBUG"
	}
	return "TRACE"
}

// levelHandler filters by its own level variable, whatever the inner
// handler's minimum.
type levelHandler struct {
	inner slog.Handler
	level *slog.LevelVar
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }
func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if err := h.inner.Handle(ctx, r); err != nil {
		return fmt.Errorf("log: %w", err)
	}
	return nil
}
func (h *levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &levelHandler{inner: h.inner.WithAttrs(as), level: h.level}
}
func (h *levelHandler) WithGroup(n string) slog.Handler {
	return &levelHandler{inner: h.inner.WithGroup(n), level: h.level}
}
