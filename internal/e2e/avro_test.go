package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAvroMatchesJSON runs two sluice processes over the same table and
// changes, one with the JSON converter (schemas.enable=false) and one with
// the Avro converter on its embedded registry, and reads the Avro topic
// with Confluent's Python AvroDeserializer through that registry. Every
// record must equal the JSON converter's, except for what differs between
// two runs rather than two converters: the envelope's processing time
// (ts_ms, ts_us, ts_ns) and source.name (each run has its own topic.prefix).
// The Avro side is turned into Connect's JSON form by the script, bytes and
// decimals as base64 (see testdata/avro_consume.py); nothing else is
// adjusted.
func TestAvroMatchesJSON(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	py := pythonAvro(t)

	run := fmt.Sprintf("av%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgEnv(t, pgURL, schema, run+"j", run+"a")
	table := schema + ".items"
	runSQL(t, pool,
		"CREATE TABLE "+table+` (id bigint PRIMARY KEY, name text NOT NULL, qty integer, small smallint,
			price numeric(10,2), ratio double precision, flag boolean, data bytea, born date,
			seen timestamp, at timestamptz, uid uuid, doc jsonb)`,
		"ALTER TABLE "+table+" REPLICA IDENTITY FULL")

	dir := t.TempDir()
	regAddr := freeAddr(t)
	regURL := "http://" + regAddr
	jsonConv := "{type: json, schemas.enable: false}"
	avroConv := "{type: avro, schema.registry.url: embedded}"
	start := func(name, conv string) *proc {
		d := filepath.Join(dir, name)
		cfg := fmt.Sprintf(avroConfig, d, brokers, conv, conv, "_schemas_"+run, regAddr,
			run+name, pgURL, table, run+name)
		p := startProc(t, filepath.Join(dir, name+".log"), "run", "-c", writeFile(t, filepath.Join(dir, name+".yaml"), cfg))
		waitSlot(t, pool, run+name, p)
		return p
	}
	pj := start("j", jsonConv)
	pa := start("a", avroConv)
	waitHTTP(t, regURL+"/subjects", pa)

	runSQL(t, pool,
		"INSERT INTO "+table+` VALUES (1, 'one', 10, 3, 12.50, 2.5, true, '\x00ff10', '2024-02-29',
			'2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.5+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, "x"]}')`,
		"INSERT INTO "+table+" (id, name) VALUES (2, 'two')",
		"INSERT INTO "+table+" VALUES (3, 'three', -7, -1, -0.01, -1.25, false, '', '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', 'null')",
		"UPDATE "+table+" SET name = 'uno', price = 99999999.99 WHERE id = 1",
		"UPDATE "+table+" SET qty = 5 WHERE id = 2",
		"DELETE FROM "+table+" WHERE id = 3",
	)
	const n = 7 // 3 inserts, 2 updates, a delete and its tombstone

	jrecs := consume(t, brokers, run+"j."+table, n)
	arecs := pyConsume(t, py, brokers, regURL, run+"a."+table, n)
	_ = pj.stop(t, syscall.SIGTERM)
	_ = pa.stop(t, syscall.SIGTERM)

	var keyID, valueID int
	for i := range n {
		jk, jv := decodeJSON(t, jrecs[i].Key), decodeJSON(t, jrecs[i].Value)
		a := arecs[i]
		if !reflect.DeepEqual(a.Key, jk) {
			t.Errorf("record %d key: avro %v, json %v", i, a.Key, jk)
		}
		if (a.Value == nil) != (jv == nil) {
			t.Fatalf("record %d: avro value %v, json value %v", i, a.Value, jv)
		}
		if jv == nil {
			continue // the tombstone
		}
		av := a.Value.(map[string]any)
		jm := jv.(map[string]any)
		for _, m := range []map[string]any{av, jm} {
			for _, k := range []string{"ts_ms", "ts_us", "ts_ns"} {
				if _, ok := m[k]; !ok {
					t.Errorf("record %d: no envelope %s", i, k)
				}
				delete(m, k)
			}
			delete(m["source"].(map[string]any), "name")
		}
		if !reflect.DeepEqual(av, jm) {
			aj, _ := json.Marshal(av)
			jj, _ := json.Marshal(jm)
			t.Errorf("record %d value differs:\navro %s\njson %s", i, aj, jj)
		}
		// Every record carries the ids of the first (and only) schemas.
		if i == 0 {
			keyID, valueID = *a.KeyID, *a.ValueID
		} else if *a.KeyID != keyID || *a.ValueID != valueID {
			t.Errorf("record %d: schema ids %d/%d, want %d/%d", i, *a.KeyID, *a.ValueID, keyID, valueID)
		}
	}
	// The JSON records are Kafka's: check the Avro ones are too (magic 0,
	// the id the script saw) by reading the raw bytes.
	raw := consume(t, brokers, run+"a."+table, n)
	for i, r := range raw {
		if r.Value == nil {
			continue
		}
		if r.Value[0] != 0 || int(binary.BigEndian.Uint32(r.Value[1:5])) != valueID {
			t.Errorf("record %d: wire header % x, want 00 and id %d", i, r.Value[:5], valueID)
		}
	}
}

// decodeJSON decodes a record written by the JSON converter, numbers kept
// as text as the Python side prints them.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	if b == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("json record %q: %v", b, err)
	}
	return v
}
