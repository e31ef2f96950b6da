package elasticsearch

import (
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/event"
)

// Debezium logical type names the mapping knows.
const (
	dbzTimestamp      = "io.debezium.time.Timestamp"
	dbzMicroTimestamp = "io.debezium.time.MicroTimestamp"
	dbzNanoTimestamp  = "io.debezium.time.NanoTimestamp"
	dbzZonedTimestamp = "io.debezium.time.ZonedTimestamp"
	dbzIsoTimestamp   = "io.debezium.time.IsoTimestamp"
	dbzIsoDate        = "io.debezium.time.IsoDate"
	dbzUUID           = "io.debezium.data.Uuid"
	dbzEnum           = "io.debezium.data.Enum"
)

// mapping returns the index mapping ({"properties": …}) for documents of
// struct schema s.
func mapping(s *event.Schema, decimal string) map[string]any {
	props := map[string]any{}
	for _, f := range s.Fields() {
		props[f.Name] = fieldMapping(f.Schema, decimal)
	}
	return map[string]any{"properties": props}
}

// fieldMapping maps one Connect schema to an Elasticsearch field mapping.
// Values are written as JsonConverter writes them (decimals as numbers), so
// the time types whose JSON is a count of days, microseconds or
// nanoseconds stay numbers: the engines have no date format for them.
func fieldMapping(s *event.Schema, decimal string) map[string]any {
	switch s.Name() {
	case event.LogicalDecimal:
		switch decimal {
		case DecimalKeyword:
			return map[string]any{"type": "keyword"}
		case DecimalDouble:
			return map[string]any{"type": "double"}
		}
		scale, _ := s.Param(event.DecimalScaleParam)
		n, err := strconv.Atoi(scale)
		if err != nil || n < 0 || n > 15 {
			return map[string]any{"type": "double"}
		}
		return map[string]any{"type": "scaled_float", "scaling_factor": math.Pow10(n)}
	case event.LogicalTimestamp, dbzTimestamp:
		// Numbers as sent; ISO strings in queries.
		return map[string]any{"type": "date", "format": "epoch_millis||strict_date_optional_time"}
	case dbzZonedTimestamp, dbzIsoTimestamp, dbzIsoDate:
		return map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis"}
	case dbzMicroTimestamp, dbzNanoTimestamp:
		return map[string]any{"type": "long"}
	case dbzUUID, dbzEnum:
		return map[string]any{"type": "keyword"}
	}
	switch s.Type() {
	case event.TypeInt8:
		return map[string]any{"type": "byte"}
	case event.TypeInt16:
		return map[string]any{"type": "short"}
	case event.TypeInt32:
		return map[string]any{"type": "integer"}
	case event.TypeInt64:
		return map[string]any{"type": "long"}
	case event.TypeFloat32:
		return map[string]any{"type": "float"}
	case event.TypeFloat64:
		return map[string]any{"type": "double"}
	case event.TypeBoolean:
		return map[string]any{"type": "boolean"}
	case event.TypeString:
		// As the engines' dynamic mapping: full text, plus an exact keyword
		// for sorting and aggregations.
		return map[string]any{"type": "text", "fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}}}
	case event.TypeBytes:
		return map[string]any{"type": "binary"}
	case event.TypeArray:
		return fieldMapping(s.Items(), decimal) // arrays are implicit
	case event.TypeMap:
		if k := s.Keys(); k != nil && k.Type() == event.TypeString {
			return map[string]any{"type": "object"}
		}
		// Written as an array of [key, value] pairs: not an object the
		// engine could map.
		return map[string]any{"type": "object", "enabled": false}
	case event.TypeStruct:
		return mapping(s, decimal)
	}
	return map[string]any{"type": "object", "enabled": false}
}
