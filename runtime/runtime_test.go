package runtime

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	for key, want := range map[string]bool{
		"database.password": true, "sluice.test.password": true, "aws.secret.access.key": true,
		"api.key": true, "sasl.jaas.config": true, "ssl.key.password": true, "auth_token": true,
		"key.converter": false, "message.key.columns": false, "file": false, "tasks.max": false,
		"key": false, "kafka_cluster_id": false,
	} {
		if got := Secret(key); got != want {
			t.Errorf("Secret(%q) = %v, want %v", key, got, want)
		}
	}
}

func newTestHerder(t *testing.T) *Herder {
	h, err := NewHerder(Config{WorkerID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCreateValidation(t *testing.T) {
	sink := map[string]string{"connector.class": "FileStreamSink", "topics": "t"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range sink {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<del>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name string
		conn string
		cfg  map[string]string
		kind Kind
		msg  string
	}{
		{"tasks.max zero", "bad", with("tasks.max", "0"), KindBadRequest,
			"Connector configuration is invalid and contains the following 1 error(s):\nInvalid value 0 for configuration tasks.max: Value must be at least 1\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{"no class", "bad", with("connector.class", "<del>"), KindBadRequest, "Connector config {name=bad, topics=t} contains no connector type"},
		{"unknown class", "bad", with("connector.class", "x.Y"), KindBadRequest,
			"Failed to find any class that implements Connector and which name matches x.Y, available connectors are: " + FileSinkClass + ", " + FileSourceClass},
		{"name mismatch", "bad", with("name", "other"), KindBadRequest, "Connector name configuration (other) doesn't match connector name in the URL (bad)"},
		{"both topics", "bad", with("topics.regex", "t.*"), KindBadRequest,
			"Connector configuration is invalid and contains the following 2 error(s):\ntopics and topics.regex are mutually exclusive options, but both are set.\ntopics and topics.regex are mutually exclusive options, but both are set.\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{"transforms unsupported", "bad", with("transforms", "x"), KindBadRequest,
			"Connector configuration is invalid and contains the following 1 error(s):\nInvalid value x for configuration transforms: Sluice does not support single message transforms yet\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{"bad converter", "bad", with("value.converter", "com.example.Conv"), KindBadRequest,
			"Connector configuration is invalid and contains the following 1 error(s):\nInvalid value com.example.Conv for configuration value.converter: Class com.example.Conv could not be found.\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{"source without topic", "src", map[string]string{"connector.class": "FileStreamSource", "file": "/x"}, KindBadRequest,
			"Connector configuration is invalid and contains the following 1 error(s):\nMissing required configuration \"topic\" which has no default value.\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHerder(t)
			_, err := h.CreateConnector(tt.conn, tt.cfg)
			if !IsKind(err, tt.kind) || err.Error() != tt.msg {
				t.Fatalf("err = %v\nwant %q", err, tt.msg)
			}
			if len(h.Connectors()) != 0 {
				t.Fatal("invalid connector was created")
			}
		})
	}
}

func TestValidateReportsUnknownKeysMasked(t *testing.T) {
	h := newTestHerder(t)
	infos, err := h.Validate("FileStreamSinkConnector", map[string]string{"connector.class": FileSinkClass, "name": "n", "topics": "t", "db.password": "pw", "value.converter.schemas.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if infos.ErrorCount != 0 || !slices.Contains(infos.Groups, UnsupportedGroup) {
		t.Fatalf("error_count %d groups %v", infos.ErrorCount, infos.Groups)
	}
	last := infos.Configs[len(infos.Configs)-1]
	if last.Value.Name != "db.password" || *last.Value.Value != Hidden {
		t.Fatalf("last config %+v", last.Value)
	}
	b, _ := json.Marshal(infos)
	if strings.Contains(string(b), `"pw"`) || strings.Contains(string(b), "schemas.enable") {
		t.Fatalf("validation leaks a secret or reports a converter key: %s", b)
	}
}

func TestMaskedConfigRoundTrip(t *testing.T) {
	h := newTestHerder(t)
	cfg := map[string]string{"connector.class": FileSinkClass, "topics": "t", "file": "/dev/null", "db.password": "s3cret"}
	h.mu.Lock()
	h.cfg.Brokers = []string{"127.0.0.1:1"} // never reached: the connector is stopped first
	h.mu.Unlock()
	if _, err := h.CreateConnector("c", cfg); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Stop("c"); err != nil {
		t.Fatal(err)
	}
	got, err := h.ConnectorConfig("c")
	if err != nil || got["db.password"] != Hidden {
		t.Fatalf("config %v, %v", got, err)
	}
	got["file"] = "/dev/zero"
	if _, _, err := h.PutConnectorConfig("c", got); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	stored := h.conns["c"].config["db.password"]
	h.mu.Unlock()
	if stored != "s3cret" {
		t.Fatalf("stored password %q after writing back the masked config", stored)
	}
}

func TestLoggers(t *testing.T) {
	l := NewLoggers(slog.DiscardHandler, slog.LevelInfo)
	l.Logger("sluice.runtime.task")
	l.Logger("sluice.sinks")
	changed, err := l.Set("sluice.runtime", "debug")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sluice.runtime", "sluice.runtime.task"}; !slices.Equal(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	if got, _ := l.Get("sluice.sinks"); got.Level != "INFO" || got.LastModified != nil {
		t.Fatalf("sibling changed: %+v", got)
	}
	if got, _ := l.Get("sluice.runtime.task"); got.Level != "DEBUG" || got.LastModified == nil {
		t.Fatalf("child not changed: %+v", got)
	}
	if !l.Logger("sluice.runtime.task.x").Enabled(t.Context(), slog.LevelDebug) {
		t.Fatal("new logger does not inherit DEBUG")
	}
	if _, err := l.Set("x", "LOUD"); !IsKind(err, KindNotFound) || err.Error() != "invalid log level 'LOUD'." {
		t.Fatalf("bad level: %v", err)
	}
}

func TestConverters(t *testing.T) {
	tests := []struct {
		conv string
		in   string
		want any
		err  bool
	}{
		{"json", `"hi"`, "hi", false},
		{"json", `{ "a": 1 }`, json.RawMessage(`{"a":1}`), false},
		{"json", `null`, nil, false},
		{"json", `not json`, nil, true},
		{"string", `not json`, "not json", false},
		{"bytes", `raw`, []byte("raw"), false},
	}
	for _, tt := range tests {
		c, ok := lookupConverter(tt.conv)
		if !ok {
			t.Fatal(tt.conv)
		}
		got, err := c.ToConnect("t", []byte(tt.in))
		if (err != nil) != tt.err {
			t.Fatalf("%s(%q) err %v", tt.conv, tt.in, err)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(tt.want)
		if string(gb) != string(wb) {
			t.Fatalf("%s(%q) = %s, want %s", tt.conv, tt.in, gb, wb)
		}
	}
	b, err := jsonConverter{}.FromConnect("t", "line")
	if err != nil || string(b) != `"line"` {
		t.Fatalf("FromConnect = %s, %v", b, err)
	}
}
