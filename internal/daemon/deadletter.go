package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// Dead letter handling, as Kafka Connect's errors.tolerance: all with
// errors.deadletterqueue.topic.name. An event whose conversion fails for a
// reason a restart would only repeat (a schema change the registry refuses,
// a value its converter cannot encode) is published to the dead letter
// topic instead: its key as schemaless JSON, its value as JSON with its
// schema, so that nothing is lost and the record is readable whatever the
// source's converters. The dead letter record carries the event's position,
// so the source's offset moves past the event only once Kafka acknowledged
// it. A registry outage is not tolerated: the pipeline restarts as without
// a dead letter queue.

// Kafka Connect's dead letter context headers (DeadLetterQueueReporter).
// The partition and offset headers describe a consumed record and have no
// meaning for a source.
const (
	HeaderErrorsTopic            = "__connect.errors.topic"
	HeaderErrorsConnectorName    = "__connect.errors.connector.name"
	HeaderErrorsTaskID           = "__connect.errors.task.id"
	HeaderErrorsStage            = "__connect.errors.stage"
	HeaderErrorsClassName        = "__connect.errors.class.name"
	HeaderErrorsExceptionClass   = "__connect.errors.exception.class.name"
	HeaderErrorsExceptionMessage = "__connect.errors.exception.message"
)

// Connect's stages and classes, as the context headers name them.
const (
	stageKeyConverter    = "KEY_CONVERTER"
	stageValueConverter  = "VALUE_CONVERTER"
	stageHeaderConverter = "HEADER_CONVERTER"

	classAvroConverter   = "io.confluent.connect.avro.AvroConverter"
	classJSONConverter   = "org.apache.kafka.connect.json.JsonConverter"
	classHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
	// classDataException is what Connect's converters throw on a record
	// they cannot convert (Confluent's AvroConverter included, for a
	// schema the registry refuses).
	classDataException = "org.apache.kafka.connect.errors.DataException"
)

// stageError is a conversion error with the stage and converter class that
// failed; its text is the wrapped error's.
type stageError struct {
	stage, class string
	err          error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// deadLetter routes the events a source's converters refuse.
type deadLetter struct {
	connector  string
	topic      string
	headers    bool // errors.deadletterqueue.context.headers.enable
	logDetails bool // errors.log.enable
	key, value *jsonconv.Converter
	log        *slog.Logger
}

// newDeadLetter returns sc's dead letter route, or nil unless its
// errors.tolerance is all.
func newDeadLetter(sc SourceConfig, log *slog.Logger) (*deadLetter, error) {
	if sc.ErrorsTolerance != ToleranceAll {
		return nil, nil
	}
	kc := jsonconv.DefaultConfig()
	kc.SchemasEnable = false
	key, err := jsonconv.New(kc)
	if err != nil {
		return nil, fmt.Errorf("dead letter key converter: %w", err)
	}
	vc := jsonconv.DefaultConfig()
	vc.SchemasEnable = true
	value, err := jsonconv.New(vc)
	if err != nil {
		return nil, fmt.Errorf("dead letter value converter: %w", err)
	}
	return &deadLetter{
		connector: sc.Name, topic: sc.ErrorsDeadLetterQueueTopic,
		headers: sc.ErrorsContextHeaders, logDetails: sc.ErrorsLogEnable,
		key: key, value: value, log: log,
	}, nil
}

// tolerates reports whether err, from converting one event, sends the event
// to the dead letter topic rather than failing the pipeline.
func (d *deadLetter) tolerates(ctx context.Context, err error) bool {
	return d != nil && ctx.Err() == nil && !isRetriableConvert(err) && !isContextErr(err)
}

// record builds the dead letter record of ev, whose conversion failed with
// convErr. It carries ev's position.
func (d *deadLetter) record(ev *event.Event, convErr error) publish.Record {
	stage, class := stageValueConverter, classJSONConverter
	var se *stageError
	if errors.As(convErr, &se) {
		stage, class = se.stage, se.class
	}
	rec := publish.Record{Topic: d.topic, Position: position(ev.Position)}
	var problems []string
	if ev.Key != nil {
		k, err := d.key.EncodeStruct(nil, ev.Key)
		if err != nil {
			problems = append(problems, fmt.Sprintf("key not encodable: %v", err))
		}
		rec.Key = k
	}
	v, err := ev.Value()
	if err != nil {
		v, err = ev.UncheckedValue()
	}
	if err != nil {
		problems = append(problems, fmt.Sprintf("value not buildable: %v", err))
	} else if v != nil {
		if rec.Value, err = d.value.EncodeStruct(nil, v); err != nil {
			problems = append(problems, fmt.Sprintf("value not encodable: %v", err))
		}
	}
	if d.headers {
		rec.Headers = []publish.Header{
			{Key: HeaderErrorsTopic, Value: []byte(ev.Topic)},
			{Key: HeaderErrorsConnectorName, Value: []byte(d.connector)},
			{Key: HeaderErrorsTaskID, Value: []byte("0")},
			{Key: HeaderErrorsStage, Value: []byte(stage)},
			{Key: HeaderErrorsClassName, Value: []byte(class)},
			{Key: HeaderErrorsExceptionClass, Value: []byte(classDataException)},
			{Key: HeaderErrorsExceptionMessage, Value: []byte(convErr.Error())},
		}
	}
	attrs := []any{"topic", ev.Topic, "dlq_topic", d.topic}
	if d.logDetails {
		attrs = append(attrs, "stage", stage, "converter", class, "table", tableOf(ev),
			obs.KeyLSN, fmt.Sprintf("%x", []byte(ev.Position)), "key", string(rec.Key), obs.KeyError, convErr)
		if len(problems) > 0 {
			attrs = append(attrs, "dlq_record_problems", problems)
		}
	}
	d.log.Warn("event not converted; sent to the dead letter queue (errors.tolerance: all)", attrs...)
	return rec
}
