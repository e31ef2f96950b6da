package obs

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Attribute keys used across Sluice, defined once so that logs can be
// filtered the same way in every package.
const (
	KeyConnector = "connector" // connector (source or sink) name
	KeyTask      = "task"      // task id within a connector
	KeyTable     = "table"     // schema.table (or db.collection)
	KeyLSN       = "lsn"       // source position: Postgres LSN, binlog file:pos, resume token
	KeyTopic     = "topic"     // Kafka topic
	KeyPartition = "partition" // Kafka partition
	KeyOffset    = "offset"    // Kafka offset
	KeyError     = "error"     // an error value
)

// Levels and formats accepted by [NewLogger], as written in the config.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"text", "json"}
)

// ParseLevel maps debug, info, warn or error to a slog level.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", level)
}

// CheckFormat reports whether format is text or json.
func CheckFormat(format string) error {
	switch format {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("unknown log format %q (want text or json)", format)
}

// NewLogger returns a logger writing to w at the given level (debug, info,
// warn, error) in the given format (text, json).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, CheckFormat(format)
}
