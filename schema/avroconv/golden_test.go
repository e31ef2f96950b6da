package avroconv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

var update = flag.Bool("update", false, "rewrite golden files for cases without external provenance")

const microTimestamp = "io.debezium.time.MicroTimestamp"

func microTS() *event.Schema { return event.Int64().WithName(microTimestamp).WithVersion(1) }

// chinookEmployee builds the Connect schemas Debezium 3.0 derives for the
// Chinook sample database's public.employee table (see testdata/README.md).
func chinookEmployee() (key, value, envelope *event.Schema) {
	const prefix = "chinook.public.employee"
	optStr := event.String().Optional()
	value = event.StructOf(prefix+".Value",
		event.NewField("employee_id", event.Int32()),
		event.NewField("last_name", event.String()),
		event.NewField("first_name", event.String()),
		event.NewField("title", optStr),
		event.NewField("reports_to", event.Int32().Optional()),
		event.NewField("birth_date", microTS().Optional()),
		event.NewField("hire_date", microTS().Optional()),
		event.NewField("address", optStr),
		event.NewField("city", optStr),
		event.NewField("state", optStr),
		event.NewField("country", optStr),
		event.NewField("postal_code", optStr),
		event.NewField("phone", optStr),
		event.NewField("fax", optStr),
		event.NewField("email", optStr),
	)
	key = event.StructOf(prefix+".Key", event.NewField("employee_id", event.Int32()))
	source := pgSource("true,first,first_in_data_collection,last_in_data_collection,last,false,incremental")
	envelope = event.EnvelopeSchema(event.EnvelopeName(prefix), value, source)
	return key, value, envelope
}

// pgSource is the Postgres source block as Debezium 2.6 to 3.0 build it
// (no schema version; capture/postgres follows 3.4, which adds version 1).
func pgSource(snapshotAllowed string) *event.Schema {
	optLong := event.Int64().Optional()
	return event.StructOf("io.debezium.connector.postgresql.Source",
		event.NewField("version", event.String()),
		event.NewField("connector", event.String()),
		event.NewField("name", event.String()),
		event.NewField("ts_ms", event.Int64()),
		event.NewField("snapshot", event.String().WithName("io.debezium.data.Enum").WithVersion(1).
			WithParam("allowed", snapshotAllowed).WithDefault("false").Optional()),
		event.NewField("db", event.String()),
		event.NewField("sequence", event.String().Optional()),
		event.NewField("ts_us", optLong),
		event.NewField("ts_ns", optLong),
		event.NewField("schema", event.String()),
		event.NewField("table", event.String()),
		event.NewField("txId", optLong),
		event.NewField("lsn", optLong),
		event.NewField("xmin", optLong),
	)
}

// debezium2Users is a Debezium 2.x table whose id and timestamps carry
// column defaults, with the 2.x source block (snapshot enum without the
// first/… markers added in 3.0).
func debezium2Users() *event.Schema {
	const prefix = "demo.public.users"
	ts := microTS().WithDefault(int64(0)).Optional()
	value := event.StructOf(prefix+".Value",
		event.NewField("id", event.Int32().WithDefault(int32(0))),
		event.NewField("user_id", event.String()),
		event.NewField("email", event.String().Optional()),
		event.NewField("country", event.String().Optional()),
		event.NewField("created_at", ts),
		event.NewField("updated_at", ts),
	)
	source := pgSource("true,last,false,incremental")
	return event.EnvelopeSchema(event.EnvelopeName(prefix), value, source)
}

// jdbcNews is a plain Connect schema (JDBC source) with Decimal, int8 and
// Timestamp fields.
func jdbcNews() *event.Schema {
	dec := event.Decimal(2).WithParam("connect.decimal.precision", "5")
	return event.StructOf("gn_news_company_table",
		event.NewField("news_url_md5", event.String()),
		event.NewField("company_code", event.String()),
		event.NewField("relevance", dec.Optional()),
		event.NewField("ncc_flag", event.Int8().Optional()),
		event.NewField("published_at", event.Timestamp()),
		event.NewField("use_flag", event.Int8().Optional()),
	)
}

// TestGoldenSchemas compares AvroSchema with schemas Confluent's
// AvroConverter produced for Debezium and Connect (provenance in
// testdata/README.md). These files are never rewritten by -update.
func TestGoldenSchemas(t *testing.T) {
	key, value, env := chinookEmployee()
	for _, tc := range []struct {
		file string
		s    *event.Schema
	}{
		{"skemium_employee_key.avsc", key},
		{"skemium_employee_value.avsc", value},
		{"skemium_employee_envelope.avsc", env},
		{"debezium2_users_envelope.avsc", debezium2Users()},
		{"connect_jdbc_decimal.avsc", jdbcNews()},
	} {
		t.Run(tc.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := AvroSchema(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("schema mismatch\n got: %s\nwant: %s", got, want)
			}
			if _, err := parseHamba(got); err != nil {
				t.Errorf("hamba/avro rejects the schema: %v", err)
			}
		})
	}
}
