package outbox

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

// TestRoutePartition: table.fields.additional.placement column:partition
// sets the record's partition from an integer column (Debezium reads an
// INT32; Sluice also takes other integers that fit), a null leaves the
// partition to the key hash, and anything else is an error naming the
// column.
func TestRoutePartition(t *testing.T) {
	withPart := func(s *event.Schema, v any) event.Event {
		rs := event.StructOf("srv.public.outbox.Value",
			event.NewField("id", uuidSchema),
			event.NewField("aggregatetype", event.String()),
			event.NewField("aggregateid", event.String()),
			event.NewField("type", event.String()),
			event.NewField("payload", jsonSchema),
			event.NewField("p", s),
		)
		return event.Event{Op: event.OpCreate, Topic: "srv.public.outbox", TsMs: 1_700_000_001_000,
			Source: event.NewStruct(srcSchema, "shop", "public", "outbox"),
			After:  event.NewStruct(rs, evID, "Order", "order-7", "OrderCreated", `{}`, v)}
	}
	msg := func(p string) event.Event {
		return messageEvent("outbox", `{"id":"`+evID+`","aggregatetype":"Order","aggregateid":"a","type":"t","payload":{},"p":`+p+`}`)
	}
	tests := []struct {
		name      string
		placement string
		ev        event.Event
		partition int32
		explicit  bool
		err       string // substring of the error
	}{
		{name: "int32 column", placement: "p:partition", ev: withPart(event.Int32(), int32(5)), partition: 5, explicit: true},
		{name: "alias has no effect", placement: "p:partition:ignored", ev: withPart(event.Int32(), int32(0)), partition: 0, explicit: true},
		{name: "with a header too", placement: "type:header,p:partition", ev: withPart(event.Int16().Optional(), int16(2)), partition: 2, explicit: true},
		{name: "null column: key hash", placement: "p:partition", ev: withPart(event.Int32().Optional(), nil)},
		{name: "no placement", placement: "", ev: withPart(event.Int32(), int32(5))},
		{name: "bigint that fits", placement: "p:partition", ev: withPart(event.Int64(), int64(7)), partition: 7, explicit: true},
		{name: "negative", placement: "p:partition", ev: withPart(event.Int32(), int32(-1)), err: "p:partition: partition -1 out of range"},
		{name: "too large", placement: "p:partition", ev: withPart(event.Int64(), int64(1)<<31), err: "partition 2147483648 out of range"},
		{name: "text column", placement: "p:partition", ev: withPart(event.String(), "3"), err: "p:partition: value 3 of type string is not an integer"},
		{name: "logical message", placement: "p:partition", ev: msg("4"), partition: 4, explicit: true},
		{name: "logical message null", placement: "p:partition", ev: msg("null")},
		{name: "logical message float", placement: "p:partition", ev: msg("1.5"), err: "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(Config{Table: "public.outbox", FieldsAdditionalPlacement: tt.placement}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rec, handled, err := r.Route(&tt.ev)
			if !handled {
				t.Fatal("not handled")
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Partition != tt.partition || rec.ExplicitPartition != tt.explicit {
				t.Errorf("partition %d explicit %v, want %d %v", rec.Partition, rec.ExplicitPartition, tt.partition, tt.explicit)
			}
			if rec.Topic != "outbox.event.Order" {
				t.Errorf("topic %q", rec.Topic)
			}
		})
	}
}
