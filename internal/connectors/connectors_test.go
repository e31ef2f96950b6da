package connectors

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/runtime"
)

// memOffsets is a runtime.TaskOffsets in memory.
type memOffsets map[string]map[string]any

func key(p map[string]any) string { b, _ := json.Marshal(p); return string(b) }

func (m memOffsets) Load(p map[string]any) (map[string]any, error) { return m[key(p)], nil }
func (m memOffsets) Save(p, o map[string]any) error                { m[key(p)] = o; return nil }

// TestOffsetStore checks the daemon position ⇄ runtime offset mapping:
// a JSON position is the offset object, with numbers kept exact; another
// position is kept as a string; a position saved by an earlier version under
// the source name is read once and removed by the first save.
func TestOffsetStore(t *testing.T) {
	legacy, err := offsets.Open(filepath.Join(t.TempDir(), "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := legacy.Save("shop", []byte(`{"v":1,"lsn":"0/16B3748"}`)); err != nil {
		t.Fatal(err)
	}
	mem := memOffsets{}
	s := &offsetStore{name: "shop", partition: map[string]any{"server": "shop"}, offsets: mem, legacy: legacy, log: slog.New(slog.DiscardHandler)}

	got, err := s.Load("shop")
	if err != nil || string(got) != `{"v":1,"lsn":"0/16B3748"}` {
		t.Fatalf("first load = %s, %v; want the legacy position", got, err)
	}
	pos := `{"lsn":"16/B374D848","tx":{"commit":"16/B374D900","n":9007199254740993,"xid":4294967295},"v":1}`
	if err := s.Save("shop", []byte(pos)); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(mem[`{"server":"shop"}`]); string(b) != pos {
		t.Errorf("runtime offset = %s, want %s", b, pos)
	}
	if old, _ := legacy.Load("shop"); old != nil {
		t.Errorf("legacy position still there after a save: %s", old)
	}
	if got, _ := s.Load("shop"); string(got) != pos {
		t.Errorf("load = %s, want %s", got, pos)
	}

	if err := s.Save("shop", []byte("not-json-position")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load("shop"); string(got) != "not-json-position" {
		t.Errorf("raw position load = %q", got)
	}
	// An offsets reset (the partition removed) starts over: the legacy
	// position does not come back.
	delete(mem, `{"server":"shop"}`)
	if got, _ := s.Load("shop"); got != nil {
		t.Errorf("load after reset = %s, want none", got)
	}
}

// TestPlugins checks the plugins' names and that validation of a Debezium
// configuration reports problems by key.
func TestPlugins(t *testing.T) {
	ps := Plugins(Options{Version: "1.0", Base: daemon.DefaultConfig()})
	reg, err := runtime.NewRegistry(ps...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector", "postgres",
		"io.debezium.connector.mysql.MySqlConnector", "mysql", "io.debezium.connector.mongodb.MongoDbConnector", "mongodb"} {
		if _, ok := reg.Lookup(name); !ok {
			t.Errorf("no plugin for %s", name)
		}
	}
	p, _ := reg.Lookup("postgres")
	problems := p.Validate(map[string]string{"connector.class": "postgres", "name": "x", "database.hostname": "h", "snapshot.mode": "never-ever"})
	if len(problems["topic.prefix"]) != 1 || len(problems["snapshot.mode"]) != 1 {
		t.Errorf("problems = %v, want topic.prefix and snapshot.mode", problems)
	}
	if p.Accepts == nil || !p.Accepts("transforms.outbox.route.by.field") || p.Accepts("snapshot.lock.timeout.ms") {
		t.Error("Accepts: transforms.<alias>.* only")
	}
}
