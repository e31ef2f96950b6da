package format

import (
	"fmt"
	"io"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// parquetPageSize is ParquetRecordWriterProvider's PAGE_SIZE.
const parquetPageSize = 64 * 1024

// parquetCreatedBy is fixed so that files do not depend on how the binary
// was built.
var parquetCreatedBy = parquet.CreatedBy("parquet-go", "v0.32.0", "sluice")

// parquetCodecOf maps parquet.codec to a codec and to the extension part
// Confluent takes from CompressionCodecName.getExtension.
func parquetCodecOf(name string) (compress.Codec, string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "snappy":
		return &parquet.Snappy, ".snappy", nil
	case "none", "uncompressed":
		return &parquet.Uncompressed, "", nil
	case "gzip":
		return &parquet.Gzip, ".gz", nil
	case "zstd":
		return &parquet.Zstd, ".zstd", nil
	case "brotli":
		return &parquet.Brotli, ".br", nil
	case "lz4_raw":
		return &parquet.Lz4Raw, ".lz4raw", nil
	}
	return nil, "", fmt.Errorf("parquet.codec: %q is not none, snappy, gzip, zstd, brotli or lz4_raw (Hadoop's lz4 and lzo are not supported)", name)
}

// parquetFormat is Confluent's ParquetFormat: parquet-avro's AvroParquetWriter
// over AvroData.fromConnectSchema of the (enveloped) view schema. The
// Parquet schema is what parquet-avro's AvroSchemaConverter makes of that
// Avro schema; see the package documentation for the mapping.
type parquetFormat struct {
	v     view
	codec compress.Codec
	ext   string
}

func newParquet(o Options, v view) (*parquetFormat, error) {
	codec, ext, err := parquetCodecOf(o.ParquetCodec)
	if err != nil {
		return nil, err
	}
	return &parquetFormat{v: v, codec: codec, ext: ext}, nil
}

func (f *parquetFormat) Extension() string { return f.v.extension() + f.ext + ".parquet" }

func (f *parquetFormat) NewWriter(w io.Writer, first sink.Record) (Writer, error) {
	s := f.v.schemaOf(first, true)
	if s == nil {
		return nil, recordErr(first, "parquet %s: %w", f.v, ErrNoSchema)
	}
	if s.Type() != event.TypeStruct {
		return nil, recordErr(first, "parquet %s: schema %v is not a struct (Parquet files hold records)", f.v, s)
	}
	avroJSON, err := avroconv.AvroSchema(s)
	if err != nil {
		return nil, recordErr(first, "parquet %s: %w", f.v, err)
	}
	b := &pqBuilder{oldLists: !hasArrayOfOptional(s, nil)}
	root, err := b.group("", s.Required(), false)
	if err != nil {
		return nil, recordErr(first, "parquet %s: %w", f.v, err)
	}
	schema := parquet.NewSchema(recordFullName(s), root)
	pw := parquet.NewWriter(w, schema, f.codecOption(), parquetCreatedBy,
		parquet.PageBufferSize(parquetPageSize),
		parquet.KeyValueMetadata("parquet.avro.schema", string(avroJSON)),
		parquet.KeyValueMetadata("writer.model.name", "avro"))
	return &parquetWriter{f: f, guard: newGuard(f.v, first), schema: s, root: root,
		pw: pw, cols: make([][]parquet.Value, b.cols)}, nil
}

func (f *parquetFormat) codecOption() parquet.WriterOption { return parquet.Compression(f.codec) }

// recordFullName is the Avro record's full name parquet-avro gives the
// message: the Connect name, or AvroData's name for unnamed structs.
func recordFullName(s *event.Schema) string {
	if s.Name() != "" {
		return s.Name()
	}
	return "io.confluent.connect.avro.ConnectDefault"
}

// hasArrayOfOptional is ParquetRecordWriterProvider.schemaHasArrayOfOptionalItems:
// such a schema turns parquet-avro's old list structure off for the file.
func hasArrayOfOptional(s *event.Schema, seen map[*event.Schema]bool) bool {
	if seen == nil {
		seen = map[*event.Schema]bool{}
	}
	if seen[s] {
		return false
	}
	seen[s] = true
	switch s.Type() {
	case event.TypeStruct:
		for i := 0; i < s.NumFields(); i++ {
			if hasArrayOfOptional(s.Field(i).Schema, seen) {
				return true
			}
		}
	case event.TypeMap:
		return hasArrayOfOptional(s.Values(), seen)
	case event.TypeArray:
		return s.Items().IsOptional() || hasArrayOfOptional(s.Items(), seen)
	}
	return false
}

type pqKind uint8

const (
	pqLeaf     pqKind = iota
	pqStruct          // group of fields, value *event.Struct
	pqList            // LIST-annotated group holding one repeated child
	pqMap             // MAP-annotated group holding the repeated key_value group
	pqListElem        // new list structure's repeated "list" group holding "element"
	pqKeyValue        // repeated key_value group (string map) or MapEntry record
)

// pqNode is a node of the Parquet schema, built from a Connect schema. It
// implements parquet.Field so that parquet-go writes groups in field order
// (parquet.Group sorts fields by name).
type pqNode struct {
	name     string
	schema   *event.Schema // Connect schema of the data at this node
	kind     pqKind
	optional bool
	repeated bool
	leaf     parquet.Node // leaf type
	typ      parquet.Type // group annotation (LIST, MAP) or plain group
	fields   []*pqNode
	entry    *event.Schema // MapEntry struct of a map written as a list
	col      int
	maxDef   int
	maxRep   int
}

var _ parquet.Field = (*pqNode)(nil)

func (n *pqNode) ID() int { return 0 }
func (n *pqNode) String() string {
	if n.kind == pqLeaf {
		return n.name + " " + n.leaf.String()
	}
	names := make([]string, len(n.fields))
	for i, f := range n.fields {
		names[i] = f.String()
	}
	return n.name + " {" + strings.Join(names, "; ") + "}"
}
func (n *pqNode) Type() parquet.Type {
	if n.kind == pqLeaf {
		return n.leaf.Type()
	}
	return n.typ
}
func (n *pqNode) Optional() bool { return n.optional }
func (n *pqNode) Repeated() bool { return n.repeated }
func (n *pqNode) Required() bool { return !n.optional && !n.repeated }
func (n *pqNode) Leaf() bool     { return n.kind == pqLeaf }
func (n *pqNode) Fields() []parquet.Field {
	fs := make([]parquet.Field, len(n.fields))
	for i, f := range n.fields {
		fs[i] = f
	}
	return fs
}

// Encoding is dictionary encoding for every leaf but booleans, as
// parquet-mr writes with withDictionaryEncoding(true) (parquet-go falls back
// to plain when a dictionary grows past its limit).
func (n *pqNode) Encoding() encoding.Encoding {
	if n.kind != pqLeaf || n.leaf.Type().Kind() == parquet.Boolean {
		return nil
	}
	return &parquet.RLEDictionary
}
func (n *pqNode) Compression() compress.Codec { return nil }
func (n *pqNode) GoType() reflect.Type {
	if n.kind == pqLeaf {
		return n.leaf.GoType()
	}
	return reflect.TypeFor[map[string]any]()
}
func (n *pqNode) Name() string                           { return n.name }
func (n *pqNode) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

var (
	plainGroupType = parquet.Group{}.Type()
	listGroupType  = parquet.List(parquet.Leaf(parquet.Int32Type)).Type()
	mapGroupType   = parquet.Map(parquet.String(), parquet.Leaf(parquet.Int32Type)).Type()
)

// pqBuilder builds the node tree, numbering leaf columns depth first.
type pqBuilder struct {
	oldLists bool
	cols     int
}

// node maps one Connect schema as AvroData then parquet-avro would: an
// optional schema (a [null, T] union) is an optional field.
func (b *pqBuilder) node(name string, s *event.Schema, def, rep int, repeated bool) (*pqNode, error) {
	n := &pqNode{name: name, schema: s, optional: s.IsOptional() && !repeated, repeated: repeated}
	n.maxDef, n.maxRep = def, rep
	if n.optional || n.repeated {
		n.maxDef++
	}
	if n.repeated {
		n.maxRep++
	}
	switch s.Type() {
	case event.TypeStruct:
		n.kind, n.typ = pqStruct, plainGroupType
		for i := 0; i < s.NumFields(); i++ {
			f := s.Field(i)
			c, err := b.node(f.Name, f.Schema, n.maxDef, n.maxRep, false)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, c)
		}
		return n, nil
	case event.TypeArray:
		n.kind, n.typ = pqList, listGroupType
		c, err := b.listChild(s.Items(), n.maxDef, n.maxRep)
		if err != nil {
			return nil, err
		}
		n.fields = []*pqNode{c}
		return n, nil
	case event.TypeMap:
		if s.Keys().Type() == event.TypeString && !s.Keys().IsOptional() {
			// An Avro map: MAP group with repeated key_value {key, value}.
			n.kind, n.typ = pqMap, mapGroupType
			kv := &pqNode{name: "key_value", schema: s, kind: pqKeyValue, typ: plainGroupType, repeated: true,
				maxDef: n.maxDef + 1, maxRep: n.maxRep + 1}
			k, err := b.node("key", s.Keys(), kv.maxDef, kv.maxRep, false)
			if err != nil {
				return nil, err
			}
			v, err := b.node("value", s.Values(), kv.maxDef, kv.maxRep, false)
			if err != nil {
				return nil, err
			}
			kv.fields = []*pqNode{k, v}
			n.fields = []*pqNode{kv}
			return n, nil
		}
		// Other maps are arrays of io.confluent.connect.avro.MapEntry
		// records {key, value} in AvroData.
		n.kind, n.typ = pqList, listGroupType
		entry := event.StructOf("io.confluent.connect.avro.MapEntry",
			event.NewField("key", s.Keys()), event.NewField("value", s.Values()))
		c, err := b.listChild(entry, n.maxDef, n.maxRep)
		if err != nil {
			return nil, err
		}
		n.entry = entry
		n.fields = []*pqNode{c}
		return n, nil
	}
	leaf, err := parquetLeaf(s)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", name, err)
	}
	n.kind, n.leaf, n.col = pqLeaf, leaf, b.cols
	b.cols++
	return n, nil
}

// group builds the root.
func (b *pqBuilder) group(name string, s *event.Schema, repeated bool) (*pqNode, error) {
	return b.node(name, s, 0, 0, repeated)
}

// listChild is the repeated child of a LIST group: parquet-avro's old
// structure "repeated <item> array", or with optional items anywhere in the
// schema the 3-level "repeated group list { <item> element }".
func (b *pqBuilder) listChild(items *event.Schema, def, rep int) (*pqNode, error) {
	if b.oldLists {
		return b.node("array", items, def, rep, true)
	}
	l := &pqNode{name: "list", schema: items, kind: pqListElem, typ: plainGroupType, repeated: true,
		maxDef: def + 1, maxRep: rep + 1}
	e, err := b.node("element", items, l.maxDef, l.maxRep, false)
	if err != nil {
		return nil, err
	}
	l.fields = []*pqNode{e}
	return l, nil
}

// parquetLeaf is parquet-avro's primitive mapping of AvroData's Avro type.
func parquetLeaf(s *event.Schema) (parquet.Node, error) {
	switch s.Name() {
	case event.LogicalDecimal:
		scale, _ := strconv.Atoi(paramOr(s, event.DecimalScaleParam, "0"))
		precision, err := strconv.Atoi(paramOr(s, "connect.decimal.precision", "64"))
		if err != nil {
			return nil, fmt.Errorf("decimal precision: %w", err)
		}
		return parquet.Decimal(scale, precision, parquet.ByteArrayType), nil
	case event.LogicalDate:
		return parquet.Date(), nil
	case event.LogicalTime:
		return parquet.TimeAdjusted(parquet.Millisecond, true), nil
	case event.LogicalTimestamp:
		return parquet.TimestampAdjusted(parquet.Millisecond, true), nil
	}
	switch s.Type() {
	case event.TypeInt8, event.TypeInt16, event.TypeInt32:
		return parquet.Leaf(parquet.Int32Type), nil
	case event.TypeInt64:
		return parquet.Leaf(parquet.Int64Type), nil
	case event.TypeFloat32:
		return parquet.Leaf(parquet.FloatType), nil
	case event.TypeFloat64:
		return parquet.Leaf(parquet.DoubleType), nil
	case event.TypeBoolean:
		return parquet.Leaf(parquet.BooleanType), nil
	case event.TypeString:
		return parquet.String(), nil
	case event.TypeBytes:
		return parquet.Leaf(parquet.ByteArrayType), nil
	}
	return nil, fmt.Errorf("connect type %v has no parquet mapping", s.Type())
}

func paramOr(s *event.Schema, key, def string) string {
	if v, ok := s.Param(key); ok {
		return v
	}
	return def
}

type parquetWriter struct {
	f      *parquetFormat
	guard  schemaGuard
	schema *event.Schema
	root   *pqNode
	pw     *parquet.Writer
	cols   [][]parquet.Value
	rows   []parquet.Row
	closed bool
}

func (w *parquetWriter) Write(rec sink.Record) error {
	if err := w.guard.check(rec); err != nil {
		return err
	}
	val, err := w.f.v.valueOf(rec, w.schema, true)
	if err != nil {
		return err
	}
	st, ok := val.(*event.Struct)
	if !ok {
		if val == nil {
			return recordErr(rec, "parquet %s: a null value cannot be written", w.f.v)
		}
		return recordErr(rec, "parquet %s: %T is not a struct", w.f.v, val)
	}
	for i := range w.cols {
		w.cols[i] = w.cols[i][:0]
	}
	if err := w.content(w.root, st, 0); err != nil {
		return recordErr(rec, "parquet %s: %w", w.f.v, err)
	}
	var row parquet.Row
	for _, c := range w.cols {
		row = append(row, c...)
	}
	w.rows = append(w.rows, row)
	if len(w.rows) >= parquetRowBatch {
		return w.flushRows()
	}
	return nil
}

// parquetRowBatch rows are handed to parquet-go at once: one call per row
// costs a third of the throughput.
const parquetRowBatch = 256

func (w *parquetWriter) flushRows() error {
	if len(w.rows) == 0 {
		return nil
	}
	_, err := w.pw.WriteRows(w.rows)
	clear(w.rows)
	w.rows = w.rows[:0]
	if err != nil {
		return fmt.Errorf("parquet %s: %w", w.f.v, err)
	}
	return nil
}

// write shreds v at a non-repeated node n with repetition level r.
func (w *parquetWriter) write(n *pqNode, v any, r int) error {
	if v == nil && n.schema != nil {
		v = n.schema.Default() // Connect's Struct.get
	}
	if v == nil {
		if !n.optional {
			return fmt.Errorf("%s: null for a required field", n.name)
		}
		w.nulls(n, r, n.maxDef-1)
		return nil
	}
	return w.content(n, v, r)
}

// repeat shreds the elements of a repeated node.
func (w *parquetWriter) repeat(n *pqNode, items []any, r int) error {
	if len(items) == 0 {
		w.nulls(n, r, n.maxDef-1)
		return nil
	}
	for i, it := range items {
		ri := r
		if i > 0 {
			ri = n.maxRep
		}
		if it == nil && n.kind != pqListElem {
			return fmt.Errorf("%s: null array item", n.name)
		}
		if err := w.content(n, it, ri); err != nil {
			return err
		}
	}
	return nil
}

// content shreds a present value v at n.
func (w *parquetWriter) content(n *pqNode, v any, r int) error {
	switch n.kind {
	case pqLeaf:
		pv, err := leafValue(n.schema, v)
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		w.cols[n.col] = append(w.cols[n.col], pv.Level(r, n.maxDef, n.col))
	case pqStruct:
		st, ok := v.(*event.Struct)
		if !ok {
			return fmt.Errorf("%s: %T is not a struct", n.name, v)
		}
		for _, c := range n.fields {
			var fv any
			if j := st.Schema().FieldIndex(c.name); j >= 0 {
				fv = st.At(j)
			}
			if err := w.write(c, fv, r); err != nil {
				return err
			}
		}
	case pqList:
		c := n.fields[0]
		var items []any
		switch x := v.(type) {
		case []any:
			items = x
		default:
			entries, ok := mapEntries(v)
			if !ok || n.entry == nil {
				return fmt.Errorf("%s: %T is not an array", n.name, v)
			}
			items = make([]any, len(entries))
			for i, e := range entries {
				items[i] = event.NewStruct(n.entry, e.Key, e.Value)
			}
		}
		return w.repeat(c, items, r)
	case pqMap:
		entries, ok := mapEntries(v)
		if !ok {
			return fmt.Errorf("%s: %T is not a map", n.name, v)
		}
		items := make([]any, len(entries))
		for i := range entries {
			items[i] = entries[i]
		}
		return w.repeat(n.fields[0], items, r)
	case pqListElem:
		return w.write(n.fields[0], v, r)
	case pqKeyValue:
		e, ok := v.(event.MapEntry)
		if !ok {
			return fmt.Errorf("%s: %T is not a map entry", n.name, v)
		}
		if err := w.write(n.fields[0], e.Key, r); err != nil {
			return err
		}
		return w.write(n.fields[1], e.Value, r)
	}
	return nil
}

// nulls writes a null at definition level d for every leaf under n.
func (w *parquetWriter) nulls(n *pqNode, r, d int) {
	if n.kind == pqLeaf {
		w.cols[n.col] = append(w.cols[n.col], parquet.NullValue().Level(r, d, n.col))
		return
	}
	for _, c := range n.fields {
		w.nulls(c, r, d)
	}
}

// mapEntries returns a map value's entries; a Go map's in key order.
func mapEntries(v any) ([]event.MapEntry, bool) {
	switch x := v.(type) {
	case []event.MapEntry:
		return x, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]event.MapEntry, len(keys))
		for i, k := range keys {
			out[i] = event.MapEntry{Key: k, Value: x[k]}
		}
		return out, true
	}
	return nil, false
}

// leafValue converts a Connect value to the leaf's Parquet value.
func leafValue(s *event.Schema, v any) (parquet.Value, error) {
	if s.Name() == event.LogicalDecimal {
		switch x := v.(type) {
		case []byte:
			return parquet.ByteArrayValue(x), nil
		case *big.Int:
			return parquet.ByteArrayValue(event.DecimalBytes(x)), nil
		}
		return parquet.Value{}, fmt.Errorf("%T is not a decimal", v)
	}
	switch s.Type() {
	case event.TypeInt8, event.TypeInt16, event.TypeInt32:
		n, ok := event.AsInt64(v)
		if !ok {
			return parquet.Value{}, fmt.Errorf("%T is not an integer", v)
		}
		return parquet.Int32Value(int32(n)), nil
	case event.TypeInt64:
		n, ok := event.AsInt64(v)
		if !ok {
			return parquet.Value{}, fmt.Errorf("%T is not an integer", v)
		}
		return parquet.Int64Value(n), nil
	case event.TypeFloat32:
		if f, ok := v.(float32); ok {
			return parquet.FloatValue(f), nil
		}
	case event.TypeFloat64:
		if f, ok := v.(float64); ok {
			return parquet.DoubleValue(f), nil
		}
	case event.TypeBoolean:
		if b, ok := v.(bool); ok {
			return parquet.BooleanValue(b), nil
		}
	case event.TypeString:
		if str, ok := v.(string); ok {
			return parquet.ByteArrayValue([]byte(str)), nil
		}
	case event.TypeBytes:
		if b, ok := v.([]byte); ok {
			return parquet.ByteArrayValue(b), nil
		}
	}
	return parquet.Value{}, fmt.Errorf("%T does not fit connect type %v", v, s.Type())
}

func (w *parquetWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.flushRows(); err != nil {
		return err
	}
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("finish parquet file: %w", err)
	}
	return nil
}
