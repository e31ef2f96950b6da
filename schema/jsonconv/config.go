package jsonconv

import (
	"fmt"
)

// DecimalFormat is JsonConverter's decimal.format.
type DecimalFormat string

// The decimal.format values.
const (
	DecimalBase64  DecimalFormat = "BASE64"
	DecimalNumeric DecimalFormat = "NUMERIC"
)

// Config mirrors JsonConverterConfig. Use DefaultConfig for Connect's
// defaults; the zero value disables schemas.
type Config struct {
	// SchemasEnable wraps each key/value in {"schema":...,"payload":...}
	// (schemas.enable, Connect default true).
	SchemasEnable bool `yaml:"schemas.enable" json:"schemas.enable"`
	// DecimalFormat is BASE64 (default) or NUMERIC (decimal.format).
	DecimalFormat DecimalFormat `yaml:"decimal.format" json:"decimal.format"`
	// ReplaceNullWithDefault writes a field's schema default instead of null
	// (replace.null.with.default, Connect default true).
	ReplaceNullWithDefault bool `yaml:"replace.null.with.default" json:"replace.null.with.default"`
}

// DefaultConfig returns Kafka Connect's JsonConverter defaults.
func DefaultConfig() Config {
	return Config{SchemasEnable: true, DecimalFormat: DecimalBase64, ReplaceNullWithDefault: true}
}

// Validate reports a bad setting.
func (c Config) Validate() error {
	switch c.DecimalFormat {
	case "", DecimalBase64, DecimalNumeric:
		return nil
	}
	return fmt.Errorf("decimal.format: %q is not BASE64 or NUMERIC", c.DecimalFormat)
}
