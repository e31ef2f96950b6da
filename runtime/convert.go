package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Converter turns record bytes into the value a connector sees and back,
// as Kafka Connect's converters do. A converted value is nil, a string,
// []byte or json.RawMessage (a JSON value other than a string).
type Converter interface {
	ToConnect(topic string, data []byte) (any, error)
	FromConnect(topic string, v any) ([]byte, error)
}

// Converter class names.
const (
	JSONConverterClass      = "org.apache.kafka.connect.json.JsonConverter"
	StringConverterClass    = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverterClass = "org.apache.kafka.connect.converters.ByteArrayConverter"
)

var converters = []struct {
	class   string
	aliases []string
	conv    Converter
}{
	{JSONConverterClass, []string{"JsonConverter", "json"}, jsonConverter{}},
	{StringConverterClass, []string{"StringConverter", "string"}, stringConverter{}},
	{ByteArrayConverterClass, []string{"ByteArrayConverter", "bytes"}, bytesConverter{}},
}

func lookupConverter(name string) (Converter, bool) {
	name = strings.TrimSpace(name)
	for _, c := range converters {
		if name == c.class {
			return c.conv, true
		}
		for _, a := range c.aliases {
			if name == a {
				return c.conv, true
			}
		}
	}
	return nil, false
}

// jsonConverter is JsonConverter with schemas.enable=false: values must be
// JSON; a JSON string becomes a string, any other value stays JSON text.
type jsonConverter struct{}

func (jsonConverter) ToConnect(topic string, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("converting byte[] to Kafka Connect data failed due to serialization error of topic %s: %w", topic, err)
	}
	if buf.Len() > 0 && buf.Bytes()[0] == '"' {
		var s string
		if err := json.Unmarshal(buf.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("decode JSON string of topic %s: %w", topic, err)
		}
		return s, nil
	}
	if buf.String() == "null" {
		return nil, nil
	}
	return json.RawMessage(buf.Bytes()), nil
}

func (jsonConverter) FromConnect(_ string, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return v, nil
	case []byte:
		return json.Marshal(v) // base64, as JsonConverter does for BYTES
	default:
		return json.Marshal(v)
	}
}

type stringConverter struct{}

func (stringConverter) ToConnect(_ string, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	return string(data), nil
}

func (stringConverter) FromConnect(_ string, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	default:
		return []byte(fmt.Sprint(v)), nil
	}
}

type bytesConverter struct{}

func (bytesConverter) ToConnect(_ string, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	return bytes.Clone(data), nil
}

func (bytesConverter) FromConnect(topic string, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	case json.RawMessage:
		return v, nil
	default:
		return nil, fmt.Errorf("ByteArrayConverter of topic %s: value of type %T is not bytes", topic, v)
	}
}
