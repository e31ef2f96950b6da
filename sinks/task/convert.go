package task

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// Converter turns the bytes of a key, value or header into Connect data
// (Kafka Connect's Converter.toConnectData). nil data is Kafka's null.
type Converter interface {
	ToConnect(ctx context.Context, topic string, data []byte) (*event.Schema, any, error)
}

// Converter class names the task understands.
const (
	JSONConverterClass      = "org.apache.kafka.connect.json.JsonConverter"
	StringConverterClass    = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverterClass = "org.apache.kafka.connect.converters.ByteArrayConverter"
	AvroConverterClass      = "io.confluent.connect.avro.AvroConverter"
)

// CanonicalConverter returns the class name of a converter class or alias
// (JsonConverter/json, StringConverter/string, ByteArrayConverter/bytes,
// AvroConverter/avro; SimpleHeaderConverter reads as strings), false when
// unknown.
func CanonicalConverter(name string) (string, bool) {
	switch strings.TrimSpace(name) {
	case JSONConverterClass, "JsonConverter", "json":
		return JSONConverterClass, true
	case StringConverterClass, "StringConverter", "string":
		return StringConverterClass, true
	case ByteArrayConverterClass, "ByteArrayConverter", "bytes":
		return ByteArrayConverterClass, true
	case AvroConverterClass, "AvroConverter", "avro":
		return AvroConverterClass, true
	case DefaultHeaderConverter, "SimpleHeaderConverter":
		return DefaultHeaderConverter, true
	}
	return "", false
}

// NewConverter builds the converter cc names.
func NewConverter(cc ConverterConfig) (Converter, error) {
	class, ok := CanonicalConverter(cc.Class)
	if !ok {
		return nil, fmt.Errorf("converter %q: class could not be found", cc.Class)
	}
	switch class {
	case JSONConverterClass:
		jc := jsonconv.DefaultConfig()
		for key, dst := range map[string]*bool{"schemas.enable": &jc.SchemasEnable, "replace.null.with.default": &jc.ReplaceNullWithDefault} {
			if v := strings.TrimSpace(cc.Props[key]); v != "" {
				b, err := strconv.ParseBool(strings.ToLower(v))
				if err != nil {
					return nil, fmt.Errorf("json converter %s: %q is not true or false", key, v)
				}
				*dst = b
			}
		}
		if v := strings.TrimSpace(cc.Props["decimal.format"]); v != "" {
			jc.DecimalFormat = jsonconv.DecimalFormat(strings.ToUpper(v))
		}
		c, err := jsonconv.New(jc)
		if err != nil {
			return nil, fmt.Errorf("json converter: %w", err)
		}
		return jsonConverter{c}, nil
	case StringConverterClass, DefaultHeaderConverter:
		return stringConverter{}, nil
	case ByteArrayConverterClass:
		return bytesConverter{}, nil
	default:
		ac := avroconv.DefaultConfig()
		ac.SchemaRegistryURL = strings.TrimSpace(cc.Props["schema.registry.url"])
		ac.BasicAuthUserInfo = cc.Props["basic.auth.user.info"]
		ac.CAFile = cc.Props["ssl.ca.location"]
		ac.CertFile, ac.KeyFile = cc.Props["ssl.certificate.location"], cc.Props["ssl.key.location"]
		if err := ac.Validate(); err != nil {
			return nil, fmt.Errorf("avro converter: %w", err)
		}
		cl, err := avroconv.NewClient(ac)
		if err != nil {
			return nil, fmt.Errorf("avro converter: %w", err)
		}
		return NewAvroConverter(ac, cl)
	}
}

// NewAvroConverter is AvroConverter over reg (any registry: tests, the
// embedded one).
func NewAvroConverter(cfg avroconv.Config, reg avroconv.Registry) (Converter, error) {
	c, err := avroconv.New(cfg, reg)
	if err != nil {
		return nil, err
	}
	return avroConverter{c}, nil
}

// ConverterFunc adapts a function to Converter.
type ConverterFunc func(ctx context.Context, topic string, data []byte) (*event.Schema, any, error)

// ToConnect calls f.
func (f ConverterFunc) ToConnect(ctx context.Context, topic string, data []byte) (*event.Schema, any, error) {
	return f(ctx, topic, data)
}

type jsonConverter struct{ c *jsonconv.Converter }

func (j jsonConverter) ToConnect(_ context.Context, _ string, data []byte) (*event.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	return j.c.Decode(data)
}

type avroConverter struct{ c *avroconv.Converter }

func (a avroConverter) ToConnect(ctx context.Context, _ string, data []byte) (*event.Schema, any, error) {
	return a.c.Decode(ctx, data)
}

var (
	optionalString = event.String().Optional()
	optionalBytes  = event.Bytes().Optional()
)

// stringConverter is StringConverter (UTF-8): an optional string.
type stringConverter struct{}

func (stringConverter) ToConnect(_ context.Context, _ string, data []byte) (*event.Schema, any, error) {
	if data == nil {
		return optionalString, nil, nil
	}
	return optionalString, string(data), nil
}

// bytesConverter is ByteArrayConverter: optional bytes, copied.
type bytesConverter struct{}

func (bytesConverter) ToConnect(_ context.Context, _ string, data []byte) (*event.Schema, any, error) {
	if data == nil {
		return optionalBytes, nil, nil
	}
	return optionalBytes, bytes.Clone(data), nil
}
