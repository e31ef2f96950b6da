package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/avroconv"
)

// stage is one state of the evolving table: the DDL that leads to it, the
// row inserted then, and that row as the after image must read.
type stage struct {
	ddl    string
	insert string
	after  map[string]any // column → value (int64 for integers)
}

// TestAvroSchemaEvolution changes a table three times while Sluice streams
// it in Avro through its embedded registry (ADD COLUMN nullable, ADD COLUMN
// NOT NULL with a DEFAULT, DROP COLUMN), with an insert after each change.
// Each change registers the next version of the value subject (1..4); each
// event carries the id of the version current when it was written, and
// decodes with that writer schema by avroconv, by hamba/avro on the schema
// franz-go's sr client fetches, and by Confluent's Python deserializer.
//
// Then a change BACKWARD forbids (a NOT NULL column without a default) must
// stop Sluice with an error naming the table, the column and the subject,
// with nothing published and the offset left before the event; once the
// subject's compatibility is set to NONE through the registry API (served
// by `sluice registry` over the same _schemas topic), a restart publishes
// the event with the new version, and nothing before it again.
func TestAvroSchemaEvolution(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	py := pythonAvro(t)
	ctx := context.Background()

	run := fmt.Sprintf("ev%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgEnv(t, pgURL, schema, run)
	table := schema + ".ev"
	runSQL(t, pool, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, a text)")

	dir := t.TempDir()
	regAddr := freeAddr(t)
	regURL := "http://" + regAddr
	conv := "{type: avro, schema.registry.url: embedded}"
	cfgPath := writeFile(t, filepath.Join(dir, "sluice.yaml"), fmt.Sprintf(avroConfig,
		filepath.Join(dir, "data"), brokers, conv, conv, "_schemas_"+run, regAddr, run, pgURL, table, run))
	logPath := filepath.Join(dir, "sluice.log")
	topic := run + "." + table
	subject := topic + "-value"

	p := startProc(t, logPath, "run", "-c", cfgPath)
	waitSlot(t, pool, run, p)
	waitHTTP(t, regURL+"/subjects", p)

	stages := []stage{
		{"", "INSERT INTO " + table + " VALUES (1, 'a1')",
			map[string]any{"id": int64(1), "a": "a1"}},
		{"ALTER TABLE " + table + " ADD COLUMN b integer", "INSERT INTO " + table + " VALUES (2, 'a2', 20)",
			map[string]any{"id": int64(2), "a": "a2", "b": int64(20)}},
		{"ALTER TABLE " + table + " ADD COLUMN c integer NOT NULL DEFAULT 7", "INSERT INTO " + table + " (id, a, b) VALUES (3, 'a3', 30)",
			map[string]any{"id": int64(3), "a": "a3", "b": int64(30), "c": int64(7)}},
		{"ALTER TABLE " + table + " DROP COLUMN b", "INSERT INTO " + table + " VALUES (4, 'a4', 40)",
			map[string]any{"id": int64(4), "a": "a4", "c": int64(40)}},
	}
	for i, s := range stages {
		if s.ddl != "" {
			runSQL(t, pool, s.ddl)
		}
		runSQL(t, pool, s.insert)
		// Sluice streams while the table changes: the next DDL comes once
		// this insert is on the topic.
		consume(t, brokers, topic, i+1)
	}

	cl, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	recs := consume(t, brokers, topic, len(stages))
	checkVersions(t, ctx, cl, regURL, subject, recs, stages)
	checkPython(t, py, brokers, regURL, topic, stages)
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("sluice stopped with %v; log:\n%s", err, tail(logPath))
	}

	// A NOT NULL column without a default: a BACKWARD reader requires a
	// field the earlier writers lack.
	p = startProc(t, logPath, "run", "-c", cfgPath)
	runSQL(t, pool, "ALTER TABLE "+table+" ADD COLUMN z integer NOT NULL DEFAULT 0; ALTER TABLE "+table+" ALTER COLUMN z DROP DEFAULT",
		"INSERT INTO "+table+" VALUES (5, 'a5', 50, 9)")
	if err := p.wait(t, 2*time.Minute); err == nil {
		t.Fatalf("sluice exited cleanly after an incompatible change; log:\n%s", tail(logPath))
	}
	log, _ := os.ReadFile(logPath)
	for _, want := range []string{
		"schema change refused by the schema registry",
		"table " + table,
		"column z added as int with no default",
		"subject " + subject,
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("sluice log lacks %q:\n%s", want, tail(logPath))
		}
	}
	if n := endOffset(t, brokers, topic); n != int64(len(stages)) {
		t.Fatalf("topic holds %d records after the refused change, want %d", n, len(stages))
	}

	// Relax the subject through the registry API, served by a registry
	// alone over the same _schemas topic.
	reg := startProc(t, filepath.Join(dir, "registry.log"), "registry", "-c", cfgPath)
	waitHTTP(t, regURL+"/subjects", reg)
	out, err := exec.Command("curl", "-sS", "-X", "PUT", "-H", "Content-Type: application/vnd.schemaregistry.v1+json",
		"--data", `{"compatibility":"NONE"}`, regURL+"/config/"+subject).CombinedOutput()
	if err != nil || string(out) != `{"compatibility":"NONE"}` {
		t.Fatalf("PUT /config/%s: %v %s", subject, err, out)
	}
	if err := reg.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("sluice registry stopped with %v; log:\n%s", err, tail(reg.log))
	}

	p = startProc(t, logPath, "run", "-c", cfgPath)
	waitHTTP(t, regURL+"/subjects", p)
	stages = append(stages, stage{after: map[string]any{"id": int64(5), "a": "a5", "c": int64(50), "z": int64(9)}})
	recs = consume(t, brokers, topic, len(stages))
	checkVersions(t, ctx, cl, regURL, subject, recs, stages)
	checkPython(t, py, brokers, regURL, topic, stages)
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("sluice stopped with %v; log:\n%s", err, tail(logPath))
	}
	if n := endOffset(t, brokers, topic); n != int64(len(stages)) {
		t.Errorf("topic holds %d records after the restart, want %d (the refused event once, nothing re-delivered)", n, len(stages))
	}
}

// checkVersions checks that the subject has versions 1..len(stages), that
// record i carries the id of version i+1, and that it decodes to stage i's
// row both with avroconv.Decode and with hamba/avro on the schema text sr
// fetches by that id.
func checkVersions(t *testing.T, ctx context.Context, cl *sr.Client, url, subject string, recs []*kgo.Record, stages []stage) {
	t.Helper()
	versions, err := cl.SubjectVersions(ctx, subject)
	if err != nil {
		t.Fatalf("versions of %s: %v", subject, err)
	}
	want := make([]int, len(stages))
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(versions, want) {
		t.Fatalf("subject %s has versions %v, want %v", subject, versions, want)
	}
	regClient, err := avroconv.NewClient(avroconv.Config{SchemaRegistryURL: url})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := avroconv.New(avroconv.DefaultConfig(), regClient)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stages {
		ss, err := cl.SchemaByVersion(ctx, subject, i+1)
		if err != nil {
			t.Fatal(err)
		}
		r := recs[i]
		id := int(binary.BigEndian.Uint32(r.Value[1:5]))
		if r.Value[0] != 0 || id != ss.ID {
			t.Errorf("record %d: header % x, want magic 0 and the id of version %d (%d)", i, r.Value[:5], i+1, ss.ID)
			continue
		}
		// avroconv: the Connect schema rebuilt from the writer schema.
		_, v, err := dec.Decode(ctx, r.Value)
		if err != nil {
			t.Errorf("record %d: avroconv decode: %v", i, err)
			continue
		}
		after, _ := v.(*event.Struct).Get("after").(*event.Struct)
		if got := structMap(after); !reflect.DeepEqual(got, s.after) {
			t.Errorf("record %d (version %d): avroconv after = %v, want %v", i, i+1, got, s.after)
		}
		// hamba/avro on the text sr fetched by id.
		text, err := cl.SchemaTextByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := avro.Parse(text)
		if err != nil {
			t.Fatalf("schema %d: %v", id, err)
		}
		var m map[string]any
		if err := avro.Unmarshal(hs, r.Value[5:], &m); err != nil {
			t.Errorf("record %d: hamba decode with schema %d: %v", i, id, err)
			continue
		}
		if got := hambaRow(m["after"]); !reflect.DeepEqual(got, s.after) {
			t.Errorf("record %d (version %d): hamba after = %v, want %v", i, i+1, got, s.after)
		}
	}
}

// checkPython reads the topic with Confluent's Python deserializer and
// checks each after image and that the ids follow the versions.
func checkPython(t *testing.T, py, brokers, url, topic string, stages []stage) {
	t.Helper()
	recs := pyConsume(t, py, brokers, url, topic, len(stages))
	prev := 0
	for i, r := range recs {
		after, _ := r.Value.(map[string]any)["after"].(map[string]any)
		got := map[string]any{}
		for k, v := range after {
			if n, ok := v.(json.Number); ok {
				x, _ := n.Int64()
				got[k] = x
			} else {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, stages[i].after) {
			t.Errorf("python record %d: after = %v, want %v", i, got, stages[i].after)
		}
		if *r.ValueID <= prev {
			t.Errorf("python record %d: value schema id %d not after %d", i, *r.ValueID, prev)
		}
		prev = *r.ValueID
	}
}

// structMap turns a row struct into column → value, integers as int64.
func structMap(st *event.Struct) map[string]any {
	if st == nil {
		return nil
	}
	out := map[string]any{}
	for i, f := range st.Schema().Fields() {
		out[f.Name] = asInt64(st.At(i))
	}
	return out
}

// hambaRow reads hamba/avro's decoding of an optional record: a map, or
// a union wrapped as {"<record name>": map}.
func hambaRow(v any) map[string]any {
	m, _ := v.(map[string]any)
	if len(m) == 1 {
		for _, inner := range m {
			if im, ok := inner.(map[string]any); ok {
				m = im
			}
		}
	}
	if m == nil {
		return nil
	}
	out := map[string]any{}
	for k, x := range m {
		out[k] = asInt64(x)
	}
	return out
}

func asInt64(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case map[string]any: // a hamba union branch {"int": 20}
		if len(x) == 1 {
			for _, inner := range x {
				return asInt64(inner)
			}
		}
	}
	return v
}
