package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-cdc/sluice/event"
)

// Schema names the router reads or writes.
const (
	NameJSON           = "io.debezium.data.Json"
	NameTimestamp      = "io.debezium.time.Timestamp"
	NameMicroTimestamp = "io.debezium.time.MicroTimestamp"
	NameNanoTimestamp  = "io.debezium.time.NanoTimestamp"
	// HeaderID is the header holding the event id, on which consumers
	// deduplicate.
	HeaderID = "id"
)

// Errors a router returns; each is wrapped with the offending column or row.
var (
	// ErrInvalidOperation: an outbox row was updated and
	// table.op.invalid.behavior is fatal.
	ErrInvalidOperation = errors.New("unexpected update of an outbox row")
	// ErrMissingField: a configured column is not in the outbox row.
	ErrMissingField = errors.New("outbox column missing")
	// ErrBadMessage: a logical decoding message with the outbox prefix is
	// not a JSON object of the outbox fields.
	ErrBadMessage = errors.New("invalid outbox message")
)

// Record is one routed outbox event in Connect form, ready for the key,
// value and header converters.
type Record struct {
	Topic       string
	KeySchema   *event.Schema
	Key         any
	ValueSchema *event.Schema // nil with a nil Value: a tombstone
	Value       any
	Headers     []event.Header
	// TimestampMs is the record timestamp Debezium gives the routed record:
	// table.field.event.timestamp's value in milliseconds, else the change
	// event's ts_ms.
	TimestampMs int64
	// Partition is the Kafka partition of the record when
	// ExplicitPartition is set: the value of the column placed with
	// table.fields.additional.placement column:partition (Debezium's
	// record partition). Otherwise, or when that column is null, the key
	// hash picks the partition.
	Partition         int32
	ExplicitPartition bool
	Position          event.Position
}

// Options are a router's collaborators.
type Options struct {
	Logger *slog.Logger
	// MessageContent returns the bytes a logical decoding message carried,
	// undoing the source's binary.handling.mode; nil takes []byte content
	// as is and string content as its bytes.
	MessageContent func(content any) ([]byte, error)
	// Mongo makes the router Debezium's MongoEventRouter: Config.Table is
	// an outbox collection (db.collection) of a MongoDB source, whose
	// events carry the document as extended JSON (see mongo.go), and the
	// event id field defaults to _id.
	Mongo bool
}

// Router routes outbox events as Debezium's EventRouter does: an insert into
// the outbox table (or a logical decoding message with the outbox prefix)
// becomes one record on the topic named by its route.by.field column, keyed
// by its aggregate id, valued by its payload, with its event id in the id
// header. Deletes and truncates of outbox rows are dropped, updates dropped
// with a warning (or an error, see table.op.invalid.behavior), every other
// event passes through. A Router is safe for concurrent use.
type Router struct {
	cfg      Config
	route    *regexp.Regexp
	fields   []AdditionalField
	envelope bool // some additional field goes in the value envelope
	log      *slog.Logger
	content  func(any) ([]byte, error)
	mongo    bool

	mu         sync.Mutex
	exp        expander
	envSchemas map[envKey]*event.Schema
	msgRows    map[string]*event.Schema
}

type envKey struct {
	payload *event.Schema
	row     *event.Schema
	routed  string
	version int32
	hasVer  bool
}

// NewRouter validates cfg and returns its router.
func NewRouter(cfg Config, opts Options) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Mongo && strings.TrimSpace(cfg.FieldEventID) == "" && strings.TrimSpace(cfg.CollectionFieldEventID) == "" {
		cfg.FieldEventID = DefaultMongoFieldEventID
	}
	d := cfg.withDefaults()
	d.OpInvalidBehavior = strings.ToLower(d.OpInvalidBehavior)
	route, _ := compileRoute(d.RouteTopicRegex)
	fields, _ := ParseAdditionalFields(d.FieldsAdditionalPlacement)
	r := &Router{cfg: d, route: route, fields: fields, log: opts.Logger, content: opts.MessageContent, mongo: opts.Mongo,
		envSchemas: map[envKey]*event.Schema{}, msgRows: map[string]*event.Schema{}}
	for _, f := range fields {
		r.envelope = r.envelope || f.Placement == PlaceEnvelope
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.exp = expander{
		nullBytes:        strings.EqualFold(d.JSONPayloadNullBehavior, NullOptionalBytes),
		emptyArrayString: strings.EqualFold(d.JSONPayloadEmptyArrayBehavior, EmptyArrayOptionalString),
	}
	return r, nil
}

// Config returns the router's configuration with defaults applied.
func (r *Router) Config() Config { return r.cfg }

// Route routes one event. handled is false when ev is no outbox event and
// is to be published as it is. When handled, rec is the routed record, or
// nil when the event is dropped (a delete, update or truncate of an outbox
// row); the caller still owes the database an ack of its position.
func (r *Router) Route(ev *event.Event) (rec *Record, handled bool, err error) {
	if r.mongo {
		if coll, _ := mongoCollection(ev); r.cfg.Table == "" || coll != r.cfg.Table {
			return nil, false, nil
		}
		rec, err := r.routeMongo(ev)
		return rec, true, err
	}
	if ev.Op == event.OpMessage {
		if ev.Message == nil || r.cfg.MessagePrefix == "-" || ev.Message.Prefix != r.cfg.MessagePrefix {
			return nil, false, nil
		}
		rec, err := r.routeMessage(ev)
		return rec, true, err
	}
	if r.cfg.Table == "" || ev.Source == nil || sourceTable(ev.Source) != r.cfg.Table {
		return nil, false, nil
	}
	switch ev.Op {
	case event.OpCreate, event.OpRead:
	case event.OpUpdate:
		return nil, true, r.invalidOp(ev)
	default: // deletes (services delete outbox rows right away), truncates
		r.log.Debug("outbox change ignored", "table", r.cfg.Table, "op", ev.Op.String())
		return nil, true, nil
	}
	if ev.After == nil {
		return nil, true, fmt.Errorf("outbox table %s: %s event without a row", r.cfg.Table, ev.Op)
	}
	rec, err = r.routeRow(ev, ev.After)
	if err != nil {
		return nil, true, fmt.Errorf("outbox table %s: %w", r.cfg.Table, err)
	}
	return rec, true, nil
}

func (r *Router) invalidOp(ev *event.Event) error {
	switch r.cfg.OpInvalidBehavior {
	case InvalidFatal:
		return fmt.Errorf("outbox table %s: %w", r.cfg.Table, ErrInvalidOperation)
	case InvalidError:
		r.log.Error("unexpected update of an outbox row ignored", "table", r.cfg.Table)
	default:
		r.log.Warn("unexpected update of an outbox row ignored", "table", r.cfg.Table)
	}
	return nil
}

// sourceTable returns schema.table (database.table for MySQL) of a source
// block.
func sourceTable(src *event.Struct) string {
	s := src.Schema()
	table, _ := src.Get("table").(string)
	if table == "" {
		return ""
	}
	if s.FieldIndex("schema") >= 0 {
		if sch, _ := src.Get("schema").(string); sch != "" {
			return sch + "." + table
		}
	}
	db, _ := src.Get("db").(string)
	return db + "." + table
}

// routeRow is EventRouterDelegate.apply from the extracted "after" row on.
func (r *Router) routeRow(ev *event.Event, row *event.Struct) (*Record, error) {
	rs := row.Schema()
	field := func(name string) (*event.Schema, error) {
		s := rs.FieldByName(name)
		if s == nil {
			return nil, fmt.Errorf("%w: %s", ErrMissingField, name)
		}
		return s, nil
	}
	payloadSchema, err := field(r.cfg.FieldEventPayload)
	if err != nil {
		return nil, err
	}
	idSchema, err := field(r.cfg.FieldEventID)
	if err != nil {
		return nil, err
	}
	keySchema, err := field(r.cfg.FieldEventKey)
	if err != nil {
		return nil, err
	}
	if _, err := field(r.cfg.RouteByField); err != nil {
		return nil, err
	}
	ts, err := r.timestamp(ev, row)
	if err != nil {
		return nil, err
	}
	payload := row.Get(r.cfg.FieldEventPayload)
	rec := &Record{Position: ev.Position, TimestampMs: ts, KeySchema: keySchema, Key: row.Get(r.cfg.FieldEventKey)}
	rec.Headers = append(append(rec.Headers, ev.Headers...), event.Header{Key: HeaderID, Schema: idSchema, Value: row.Get(r.cfg.FieldEventID)})

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.ExpandJSONPayload {
		switch p := payload.(type) {
		case string:
			s, v, err := r.exp.expand(r.cfg.FieldEventPayload, p)
			if err != nil {
				r.log.Warn("outbox JSON payload expansion failed; payload kept as a string", "error", err)
			} else {
				payloadSchema, payload = s, v
			}
		case nil:
		default:
			r.log.Warn("table.expand.json.payload is on but the payload is not a string", "type", fmt.Sprintf("%T", payload))
		}
	}

	routed, ok := row.Get(r.cfg.RouteByField).(string)
	if !ok {
		return nil, fmt.Errorf("route.by.field %s: value %v is not a string", r.cfg.RouteByField, row.Get(r.cfg.RouteByField))
	}
	rec.Topic = r.topic(routed)

	var value *event.Struct
	if r.envelope {
		vs, err := r.envelopeSchema(payloadSchema, row, routed)
		if err != nil {
			return nil, err
		}
		value = event.NewStruct(vs).Set("payload", payload)
		rec.ValueSchema, rec.Value = vs, value
	} else {
		rec.ValueSchema, rec.Value = payloadSchema, payload
	}
	for _, f := range r.fields {
		fs := rs.FieldByName(f.Column)
		if fs == nil {
			if strings.EqualFold(r.cfg.FieldAdditionalMissing, "ignore") {
				continue
			}
			return nil, fmt.Errorf("table.fields.additional.placement: %w: %s", ErrMissingField, f.Column)
		}
		switch f.Placement {
		case PlaceEnvelope:
			value.Set(f.Alias, row.Get(f.Column))
		case PlaceHeader:
			rec.Headers = append(rec.Headers, event.Header{Key: f.Alias, Schema: fs, Value: row.Get(f.Column)})
		case PlacePartition:
			p, ok, err := partitionOf(row.Get(f.Column))
			if err != nil {
				return nil, fmt.Errorf("table.fields.additional.placement %s:partition: %w", f.Column, err)
			}
			rec.Partition, rec.ExplicitPartition = p, ok
		}
	}
	if emptyPayload(payload) && r.cfg.RouteTombstoneOnEmptyPayload {
		rec.ValueSchema, rec.Value = nil, nil
	}
	return rec, nil
}

// partitionOf reads the value of a partition column. Debezium takes an
// INT32 column (Postgres integer, MySQL INT); Sluice also takes the other
// integer types (a smallint column, an integer key of a logical decoding
// message) when the value fits. Null means no partition of its own.
func partitionOf(v any) (int32, bool, error) {
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case int32:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int64:
		n = x
	default:
		return 0, false, fmt.Errorf("value %v of type %T is not an integer", v, v)
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, false, fmt.Errorf("partition %d out of range", n)
	}
	return int32(n), true, nil
}

// emptyPayload is Debezium's test for a delete event: a null payload or
// one whose text is blank (Java's String.trim drops every char <= ' ').
func emptyPayload(p any) bool {
	switch v := p.(type) {
	case nil:
		return true
	case string:
		return strings.TrimFunc(v, func(c rune) bool { return c <= ' ' }) == ""
	}
	return false
}

// timestamp returns the routed record's timestamp in milliseconds.
func (r *Router) timestamp(ev *event.Event, row *event.Struct) (int64, error) {
	if r.cfg.FieldEventTimestamp == "" {
		return ev.TsMs, nil
	}
	fs := row.Schema().FieldByName(r.cfg.FieldEventTimestamp)
	if fs == nil {
		return 0, fmt.Errorf("table.field.event.timestamp: %w: %s", ErrMissingField, r.cfg.FieldEventTimestamp)
	}
	v := row.Get(r.cfg.FieldEventTimestamp)
	if v == nil {
		return ev.TsMs, nil
	}
	t, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("table.field.event.timestamp %s: unsupported type %s", r.cfg.FieldEventTimestamp, fs.Type())
	}
	switch fs.Name() {
	case NameTimestamp, event.LogicalTimestamp:
		return t, nil
	case NameMicroTimestamp:
		return t / 1_000, nil
	case NameNanoTimestamp:
		return t / 1_000_000, nil
	}
	return 0, fmt.Errorf("table.field.event.timestamp %s: unsupported type %q", r.cfg.FieldEventTimestamp, fs.Name())
}

// topic applies route.topic.regex and route.topic.replacement to the routed
// value as Kafka's RegexRouter does: a value the regex does not match in
// full is the topic itself.
func (r *Router) topic(routed string) string {
	m := r.route.FindStringSubmatchIndex(routed)
	if m == nil {
		return routed
	}
	return expandJava(r.route, r.cfg.RouteTopicReplacement, routed, m)
}

// expandJava expands a java.util.regex replacement string: $n and ${name}
// refer to groups, a backslash quotes the next character.
func expandJava(re *regexp.Regexp, repl, src string, m []int) string {
	var b strings.Builder
	group := func(i int) {
		if 2*i+1 < len(m) && m[2*i] >= 0 {
			b.WriteString(src[m[2*i]:m[2*i+1]])
		}
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			b.WriteByte(repl[i])
		case c == '$' && i+1 < len(repl) && repl[i+1] == '{':
			end := strings.IndexByte(repl[i:], '}')
			if end < 0 {
				b.WriteString(repl[i:])
				return b.String()
			}
			name := repl[i+2 : i+end]
			if idx := re.SubexpIndex(name); idx >= 0 {
				group(idx)
			}
			i += end
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			// Java reads as many digits as still name an existing group.
			n := int(repl[i+1] - '0')
			i++
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				next := n*10 + int(repl[i+1]-'0')
				if next > re.NumSubexp() {
					break
				}
				n = next
				i++
			}
			group(n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// envelopeSchema builds the value schema used when some additional field
// goes in the envelope: payload first, then the envelope fields with their
// column schemas, named after the outbox row schema with the routed value
// inserted before its last part ("server.public.outbox.order.Value").
// Debezium caches this schema by payload schema alone, so its name depends
// on the first routed value seen; Sluice names it after each routed value.
func (r *Router) envelopeSchema(payload *event.Schema, row *event.Struct, routed string) (*event.Schema, error) {
	k := envKey{payload: payload, row: row.Schema(), routed: routed}
	if r.cfg.FieldSchemaVersion != "" {
		v, ok := row.Get(r.cfg.FieldSchemaVersion).(int32)
		if !ok {
			return nil, fmt.Errorf("table.field.event.schema.version %s: want an int32 column", r.cfg.FieldSchemaVersion)
		}
		k.version, k.hasVer = v, true
	}
	if s, ok := r.envSchemas[k]; ok {
		return s, nil
	}
	fields := []event.Field{event.NewField("payload", payload)}
	for _, f := range r.fields {
		if f.Placement != PlaceEnvelope {
			continue
		}
		fs := k.row.FieldByName(f.Column)
		if fs == nil {
			continue // missing and ignored (checked by the caller)
		}
		fields = append(fields, event.NewField(f.Alias, fs))
	}
	name := routed
	if n := k.row.Name(); n != "" {
		if dot := strings.LastIndexByte(n, '.'); dot >= 0 {
			name = n[:dot+1] + routed + "." + n[dot+1:]
		} else {
			name = routed + "." + n
		}
	}
	s := event.StructOf(name, fields...)
	if k.hasVer {
		s = s.WithVersion(int(k.version))
	}
	if len(r.envSchemas) >= maxInterned {
		clear(r.envSchemas)
	}
	r.envSchemas[k] = s
	return s, nil
}

// routeMessage routes a logical decoding message whose content is a JSON
// object with the outbox fields (see the package documentation).
func (r *Router) routeMessage(ev *event.Event) (*Record, error) {
	var content []byte
	var err error
	switch {
	case r.content != nil:
		content, err = r.content(ev.Message.Content)
	default:
		switch c := ev.Message.Content.(type) {
		case []byte:
			content = c
		case string:
			content = []byte(c)
		default:
			err = fmt.Errorf("content of type %T", c)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w with prefix %q: %w", ErrBadMessage, ev.Message.Prefix, err)
	}
	row, err := r.messageRow(ev.Topic, content)
	if err != nil {
		return nil, fmt.Errorf("%w with prefix %q: %w", ErrBadMessage, ev.Message.Prefix, err)
	}
	rec, err := r.routeRow(ev, row)
	if err != nil {
		return nil, fmt.Errorf("%w with prefix %q: %w", ErrBadMessage, ev.Message.Prefix, err)
	}
	return rec, nil
}

// messageRow turns message content into the row an outbox table insert
// would give: every top-level key becomes a column. The payload is a
// string column: a JSON string as its text, other JSON as its text with
// schema io.debezium.data.Json (as a jsonb column). Other keys: strings,
// integers as int64, other numbers as float64, booleans; objects and arrays
// as JSON text. The timestamp key, if configured, is epoch milliseconds.
func (r *Router) messageRow(topic string, content []byte) (*event.Struct, error) {
	n, err := parseJSON(content)
	if err != nil {
		return nil, err
	}
	if n.kind != 'o' {
		return nil, errors.New("content is not a JSON object")
	}
	fields := make([]event.Field, 0, len(n.keys))
	vals := make([]any, 0, len(n.keys))
	var sig strings.Builder
	for i, k := range n.keys {
		if k == "" {
			return nil, errors.New("empty key")
		}
		v := n.vals[i]
		var s *event.Schema
		var val any
		switch {
		case k == r.cfg.FieldEventPayload:
			s = event.String().Optional()
			switch v.kind {
			case 's':
				val = v.str
			case 'z':
				s = s.WithName(NameJSON).WithVersion(1)
			default:
				s = s.WithName(NameJSON).WithVersion(1)
				val = compactJSON(v)
			}
		case k == r.cfg.FieldEventTimestamp && v.kind == 'n':
			t, err := v.num.Int64()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			s, val = event.Int64().Optional().WithName(NameTimestamp).WithVersion(1), t
		default:
			switch v.kind {
			case 's':
				s, val = event.String().Optional(), v.str
			case 'b':
				s, val = event.Boolean().Optional(), v.b
			case 'z':
				s = event.String().Optional()
			case 'n':
				if iv, err := v.num.Int64(); err == nil {
					s, val = event.Int64().Optional(), iv
				} else {
					f, err := v.num.Float64()
					if err != nil {
						return nil, fmt.Errorf("%s: %w", k, err)
					}
					s, val = event.Float64().Optional(), f
				}
			default:
				s, val = event.String().Optional().WithName(NameJSON).WithVersion(1), compactJSON(v)
			}
		}
		fields = append(fields, event.NewField(k, s))
		vals = append(vals, val)
		sig.WriteString(strconv.Quote(k) + ":" + signature(s) + ",")
	}
	r.mu.Lock()
	rs, ok := r.msgRows[sig.String()]
	if !ok {
		rs = event.StructOf(topic+".Value", fields...)
		if len(r.msgRows) >= maxInterned {
			clear(r.msgRows)
		}
		r.msgRows[sig.String()] = rs
	}
	r.mu.Unlock()
	return event.NewStruct(rs, vals...), nil
}
