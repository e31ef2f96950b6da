package elasticsearch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestMappingGolden derives the mapping of a row with every Connect type
// and the Debezium logical types the sink knows, for each decimal.mapping
// (testdata/mapping_<decimal>.golden.json; -update writes them).
func TestMappingGolden(t *testing.T) {
	named := func(s *event.Schema, name string) *event.Schema { return s.WithName(name) }
	sc := event.StructOf("server.public.all.Value",
		event.NewField("i8", event.Int8()),
		event.NewField("i16", event.Int16()),
		event.NewField("i32", event.Int32()),
		event.NewField("i64", event.Int64().Optional()),
		event.NewField("f32", event.Float32()),
		event.NewField("f64", event.Float64()),
		event.NewField("b", event.Boolean()),
		event.NewField("s", event.String()),
		event.NewField("raw", event.Bytes()),
		event.NewField("price", event.Decimal(2)),
		event.NewField("huge", event.Decimal(20)),
		event.NewField("ts", event.Timestamp()),
		event.NewField("day", event.Date()),
		event.NewField("dbz_ts", named(event.Int64(), dbzTimestamp)),
		event.NewField("dbz_micro", named(event.Int64(), dbzMicroTimestamp)),
		event.NewField("dbz_zoned", named(event.String(), dbzZonedTimestamp)),
		event.NewField("dbz_date", named(event.Int32(), "io.debezium.time.Date")),
		event.NewField("uuid", named(event.String(), dbzUUID)),
		event.NewField("tags", event.Array(event.String())),
		event.NewField("attrs", event.Map(event.String(), event.Int64())),
		event.NewField("pairs", event.Map(event.Int32(), event.String())),
		event.NewField("nested", event.StructOf("n", event.NewField("x", event.Int32()), event.NewField("at", event.Timestamp()))),
	)
	for _, dec := range []string{DecimalScaledFloat, DecimalDouble, DecimalKeyword} {
		got, err := json.MarshalIndent(mapping(sc, dec), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", "mapping_"+dec+".golden.json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: mapping\n%s\nwant\n%s", dec, got, want)
		}
		// The node takes it.
		if url, ok := testenv.Lookup("SLUICE_ES_URL"); ok {
			index := uniqueIndex(t, url, "golden-"+strings.ReplaceAll(dec, "_", "-"))
			if st, body := esDo(t, url, http.MethodPut, "/"+index, `{"mappings":`+string(got)+`}`); st != 200 {
				t.Errorf("%s: PUT index with the mapping: %d %s", dec, st, body)
			}
		}
	}
}

// FuzzParseConfig: any configuration parses or fails with an error naming
// the sink; what parses validates.
func FuzzParseConfig(f *testing.F) {
	f.Add("http://127.0.0.1:9200", "insert", "delete", "fail", "2000", "false")
	f.Add("https://a:1,http://b:2", "upsert", "ignore", "warn", "1", "true")
	f.Add("", "x", "y", "z", "-1", "maybe")
	f.Fuzz(func(t *testing.T, url, method, nulls, malformed, batch, keyIgnore string) {
		c, err := ParseConfig(map[string]string{"connection.url": url, "write.method": method, "behavior.on.null.values": nulls,
			"behavior.on.malformed.documents": malformed, "batch.size": batch, "key.ignore": keyIgnore})
		if err != nil {
			if len(err.Error()) < len("elasticsearch sink: ") || err.Error()[:len("elasticsearch sink: ")] != "elasticsearch sink: " {
				t.Fatalf("error %q does not name the sink", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
	})
}
