package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/publish"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// benchSchemas are the schemas of the benchmark table of internal/bench
// (bigint key, integer, text, numeric, timestamptz) as the Postgres source
// builds them, with Debezium's default JSON converters (schemas on).
var (
	benchKey = event.StructOf("bench.public.t.Key", event.NewField("id", event.Int64()))
	benchRow = event.StructOf("bench.public.t.Value",
		event.NewField("id", event.Int64()),
		event.NewField("k", event.Int32()),
		event.NewField("name", event.String()),
		event.NewField("amount", event.Decimal(2).WithParam("connect.decimal.precision", "12").Optional()),
		event.NewField("updated_at", event.String().WithName("io.debezium.time.ZonedTimestamp").WithVersion(1)),
	)
	benchEnv = event.EnvelopeSchema("bench.public.t.Envelope", benchRow, postgres.SourceSchema())
)

func benchEvent(id int64) event.Event {
	row := event.NewStruct(benchRow, id, int32(id%1000), fmt.Sprintf("name-%d", id),
		event.DecimalBytes(big.NewInt(id)), "2026-11-25T08:37:26.123456Z")
	src := event.NewStruct(postgres.SourceSchema(), postgres.Version, postgres.ConnectorName, "bench", int64(1764059846123),
		"false", "sluice", fmt.Sprintf(`["%d","%d"]`, 24023128+id, 24023200+id), int64(1764059846123456), int64(1764059846123456000),
		"public", "t", int64(555), int64(24023200+id), nil)
	ev := event.Event{
		Op: event.OpCreate, After: row, Source: src, Topic: "bench.public.t",
		Key: event.NewStruct(benchKey, id), ValueSchema: benchEnv,
		Position: event.Position(fmt.Sprint(id)),
	}
	ev.SetTimestamp(time.UnixMilli(1764059846123))
	return ev
}

func TestConvertArena(t *testing.T) {
	conv, err := newConverter(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := jsonconv.New(jsonconv.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Enough events to fill several arena chunks, one of them larger than
	// a whole chunk, and deletes (tombstones share the key).
	batch := make(event.Batch, 0, 300)
	for i := range int64(300) {
		ev := benchEvent(i)
		switch i {
		case 150:
			ev.After.SetAt(2, strings.Repeat("x", 2*arenaChunk))
		case 7, 200:
			ev.Op, ev.Before, ev.After = event.OpDelete, ev.After, nil
		}
		batch = append(batch, ev)
	}
	segs, err := conv.convert(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || len(segs[0].records) != 302 {
		t.Fatalf("got %d segments, first with %d records; want 1 with 302", len(segs), len(segs[0].records))
	}
	recs := segs[0].records
	j := 0
	for i := range batch {
		ev := &batch[i]
		wantKey, err := ref.EncodeStruct(nil, ev.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ev.Value()
		if err != nil {
			t.Fatal(err)
		}
		wantValue, err := ref.EncodeStruct(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		r := recs[j]
		if !bytes.Equal(r.Key, wantKey) || !bytes.Equal(r.Value, wantValue) {
			t.Fatalf("event %d: got key %s value %.200s…\nwant key %s value %.200s…", i, r.Key, r.Value, wantKey, wantValue)
		}
		// No spare capacity: appending to one record must not write into
		// the next.
		if cap(r.Key) != len(r.Key) || cap(r.Value) != len(r.Value) {
			t.Fatalf("event %d: key len %d cap %d, value len %d cap %d", i, len(r.Key), cap(r.Key), len(r.Value), cap(r.Value))
		}
		j++
		if ev.Op == event.OpDelete {
			if r.Position != nil || recs[j].Value != nil || !bytes.Equal(recs[j].Key, wantKey) {
				t.Fatalf("delete %d: record position %v, tombstone %q/%q", i, r.Position, recs[j].Key, recs[j].Value)
			}
			j++
		}
	}
	// Encoding the same batch again gives the same bytes: the arena never
	// hands out memory a record still uses.
	first := make([][]byte, len(recs))
	for i, r := range recs {
		first[i] = bytes.Clone(r.Value)
	}
	if _, err := conv.convert(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Value, first[i]) {
			t.Fatalf("record %d changed after a later convert", i)
		}
	}
}

// TestConvertArenaRecycles: once the producer has released every record of
// a chunk, the arena reuses the chunk, and records still in flight are never
// overwritten.
func TestConvertArenaRecycles(t *testing.T) {
	conv, err := newConverter(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := jsonconv.New(jsonconv.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	batch := make(event.Batch, 400) // about six chunks
	for i := range batch {
		batch[i] = benchEvent(int64(i))
		if i%50 == 0 {
			batch[i].Op, batch[i].Before, batch[i].After = event.OpDelete, batch[i].After, nil
		}
	}
	want := make([][]byte, len(batch))
	for i := range batch {
		v, err := batch[i].Value()
		if err != nil {
			t.Fatal(err)
		}
		if want[i], err = ref.EncodeStruct(nil, v); err != nil {
			t.Fatal(err)
		}
	}
	// check verifies the values of recs from record index from on.
	check := func(recs []publish.Record, from int) {
		t.Helper()
		j := 0
		for i := range batch {
			if j >= from && !bytes.Equal(recs[j].Value, want[i]) {
				t.Fatalf("event %d: value %.100s…, want %.100s…", i, recs[j].Value, want[i])
			}
			j++
			if batch[i].Op == event.OpDelete {
				j++ // the tombstone
			}
		}
	}
	convert := func() []publish.Record {
		t.Helper()
		segs, err := conv.convert(t.Context(), batch)
		if err != nil {
			t.Fatal(err)
		}
		return segs[0].records
	}

	first := convert()
	chunks := map[*chunk]bool{}
	for i, r := range first {
		c, ok := r.Buffer.(*chunk)
		if !ok {
			t.Fatalf("record %d has buffer %T, want a chunk", i, r.Buffer)
		}
		chunks[c] = true
	}
	if len(chunks) < 3 {
		t.Fatalf("%d chunks used, want several", len(chunks))
	}
	// Half of the first batch is still in flight while a second batch is
	// converted: its bytes must stay intact.
	for _, r := range first[:len(first)/2] {
		r.Buffer.Release()
	}
	second := convert()
	check(first, len(first)/2)
	check(second, 0)
	for _, r := range first[len(first)/2:] {
		r.Buffer.Release()
	}
	third := convert()
	check(second, 0)
	check(third, 0)
	reused := 0
	for _, r := range third {
		if chunks[r.Buffer.(*chunk)] {
			reused++
		}
	}
	if reused == 0 {
		t.Fatal("no chunk of the first batch was reused")
	}
	// Every chunk is back once all records are released and the arena moves
	// on.
	for _, r := range append(second, third...) {
		r.Buffer.Release()
	}
	conv.buf.max = 1 << 30 // forces begin to retire the current chunk
	conv.buf.begin()
	for c := range chunks {
		if n := c.refs.Load(); n != 0 && c != conv.buf.cur {
			t.Errorf("chunk still has %d users after every release", n)
		}
	}
}

// BenchmarkConvert measures serializing a 500-event batch of the benchmark
// table's inserts, per event, releasing the records as the producer does.
func BenchmarkConvert(b *testing.B) {
	conv, err := newConverter(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	batch := make(event.Batch, 500)
	for i := range batch {
		batch[i] = benchEvent(int64(i + 1))
	}
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		segs, err := conv.convert(b.Context(), batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range segs[0].records {
			n += int64(len(r.Key) + len(r.Value))
			r.Buffer.Release() // as the producer does once Kafka has the record
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	b.ReportMetric(float64(n)/float64(b.N*len(batch)), "B/event")
}

// TestConvertInvalidValue: the JSON path skips Event.Value's validation, so
// the encoder must still refuse a value that does not fit its schema.
func TestConvertInvalidValue(t *testing.T) {
	conv, err := newConverter(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		bad  func(*event.Event)
		want string
	}{
		{"string for an int32", func(ev *event.Event) { ev.After.SetAt(1, "x") }, `field "after": field "k": value does not match schema`},
		{"null for a required field", func(ev *event.Event) { ev.After.SetAt(2, nil) }, `field "after": field "name": value does not match schema: null for required`},
		{"row of another schema", func(ev *event.Event) { ev.After = event.NewStruct(benchKey, int64(1)) }, `field "after": value does not match schema: struct bound to`},
		{"source missing a required field", func(ev *event.Event) { ev.Source.SetAt(0, nil) }, `field "source": field "version": value does not match schema: null for required`},
	}
	for _, tt := range tests {
		ev := benchEvent(1)
		tt.bad(&ev)
		_, err := conv.convert(t.Context(), event.Batch{ev})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, jsonconv.ErrMismatch) {
			t.Errorf("%s: convert error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}
