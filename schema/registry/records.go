package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The _schemas record format, as Confluent's storage classes write it
// (io.confluent.kafka.schemaregistry.storage: SchemaKey, SchemaValue,
// ConfigKey, ConfigValue, DeleteSubjectKey, DeleteSubjectValue). Key fields
// keep Confluent's @JsonPropertyOrder so the bytes match.

// Key types.
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyNoop          = "NOOP"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyClearSubject  = "CLEAR_SUBJECT"
)

// recordKey is the union of every key type's fields, for decoding.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Version int     `json:"version"`
	Magic   int     `json:"magic"`
}

type schemaKeyJSON struct {
	KeyType string `json:"keytype"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	Magic   int    `json:"magic"`
}

type subjectKeyJSON struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Magic   int     `json:"magic"`
}

// schemaValue is SchemaValue; schemaType is omitted for AVRO.
type schemaValue struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
	Deleted    bool   `json:"deleted"`
}

type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// marshal encodes like Jackson: no HTML escaping, no trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("registry: marshal %T: %v", v, err)) // only fixed struct types reach here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func schemaKey(subject string, version int) []byte {
	return marshal(schemaKeyJSON{KeyType: keySchema, Subject: subject, Version: version, Magic: 1})
}

// configKey is the global config key when subject is "".
func configKey(subject string) []byte {
	k := subjectKeyJSON{KeyType: keyConfig}
	if subject != "" {
		k.Subject = &subject
	}
	return marshal(k)
}

func deleteSubjectKey(subject string) []byte {
	return marshal(subjectKeyJSON{KeyType: keyDeleteSubject, Subject: &subject})
}

// record is one _schemas entry; a nil Value is a tombstone.
type record struct {
	Key   []byte
	Value []byte
}
