package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// badInputFixtures holds the answers of the real Kafka Connect 4.1.1
// (testdata/connect-rest, see its README).
const badInputFixtures = "../../testdata/connect-rest"

// connectFixture is the part of a recorded request/answer pair these tests
// use.
type connectFixture struct {
	Name    string `json:"name"`
	Request struct {
		Method      string          `json:"method"`
		Path        string          `json:"path"`
		ContentType string          `json:"content_type"`
		Body        json.RawMessage `json:"body"`
		BodyRaw     *string         `json:"body_raw"`
	} `json:"request"`
	Response struct {
		Status      int             `json:"status"`
		ContentType string          `json:"content_type"`
		Body        json.RawMessage `json:"body"`
	} `json:"response"`
}

// loadConnectFixture reads testdata/connect-rest/NNN-<name>.json with the
// placeholders replaced.
func loadConnectFixture(t *testing.T, name string, placeholders map[string]string) connectFixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(badInputFixtures, "[0-9][0-9][0-9]-"+name+".json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("fixture %s: %v %v", name, files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for k, v := range placeholders {
		s = strings.ReplaceAll(s, k, v)
	}
	var fx connectFixture
	if err := json.Unmarshal([]byte(s), &fx); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return fx
}

// internalTopics returns the internal topics of a test cluster, named in
// its workers' worker.yaml.
func internalTopics(t *testing.T, ws []*workerProc) []string {
	t.Helper()
	doc, err := os.ReadFile(ws[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, line := range strings.Split(string(doc), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && strings.HasSuffix(k, ".storage.topic") {
			topics = append(topics, strings.TrimSpace(v))
		}
	}
	return topics
}

// dropClusterState deletes what a stopped test cluster leaves on the
// broker: its internal topics and the given consumer groups.
func dropClusterState(t *testing.T, brokers string, topics []string, groups ...string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(groups) > 0 {
		if _, err := adm.DeleteGroups(ctx, groups...); err != nil {
			t.Logf("cleanup: delete groups %v: %v", groups, err)
		}
	}
	if len(topics) > 0 {
		if _, err := adm.DeleteTopics(ctx, topics...); err != nil {
			t.Logf("cleanup: delete topics %v: %v", topics, err)
		}
	}
}

// answer is one HTTP answer as the tests compare it.
type answer struct {
	status      int
	contentType string
	location    string
	body        []byte
}

func (a answer) String() string {
	return fmt.Sprintf("%d (Content-Type %q) %s", a.status, a.contentType, bytes.TrimSpace(a.body))
}

// send sends body as is (nil: no body, no Content-Type); a connection
// error ends the test.
func send(t *testing.T, method, url, contentType string, body []byte) answer {
	t.Helper()
	a, err := trySend(method, url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// trySend is send returning the connection error (a worker not listening
// yet).
func trySend(method, url, contentType string, body []byte) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), b}, nil
}

// rebalancing tells the 409 a worker answers while it knows no leader.
func rebalancing(a answer) bool {
	return a.status == http.StatusConflict && bytes.Contains(a.body, []byte("rebalance"))
}

type errorAnswer struct {
	ErrorCode *int    `json:"error_code"`
	Message   *string `json:"message"`
}

// TestWorkerBadInput sends bad requests to two "sluice worker" processes of
// one cluster: the leader answers writes itself, the other forwards them,
// and both must give Kafka Connect's status code and an error body
// {"error_code": N, "message": …} naming the problem: the message recorded
// from Kafka Connect 4.1.1 where it is not a Java-specific text, otherwise
// the words given here.
func TestWorkerBadInput(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	suffix := fmt.Sprint(time.Now().UnixNano())
	sink := "bi-sink-" + suffix
	var topics []string
	// Registered first, so run last: once the workers have stopped.
	t.Cleanup(func() { dropClusterState(t, brokers, topics, "connect-"+sink, "connect-"+sink+"-put") })
	ws := newCluster(t, brokers, 2)
	topics = internalTopics(t, ws)
	topic := "bi-topic-" + suffix // never produced to: no need to exist
	dir := t.TempDir()
	ph := map[string]string{
		"@SINK_TOPIC@": topic, "@SINK_FILE@": filepath.Join(dir, "sink.txt"),
		"@SINK_PUT_FILE@": filepath.Join(dir, "sink-put.txt"),
	}

	// Both workers in the group with a leader known: each answers a write
	// (through the leader) with something else than "rebalance underway".
	for _, w := range ws {
		eventually(t, time.Minute, "leader known to "+w.id, func() error {
			a, err := trySend("PUT", w.url+"/connectors/nope/pause", "", nil)
			if err != nil {
				return err
			}
			if rebalancing(a) || a.status != http.StatusNotFound {
				return fmt.Errorf("PUT /connectors/nope/pause: %v", a)
			}
			return nil
		})
	}
	fileSink := func(extra string) string {
		return `{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","topics":"` + topic + `"` + extra + `}`
	}
	create := fmt.Sprintf(`{"name":%q,"config":{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector",`+
		`"tasks.max":"1","topics":%q,"file":%q}}`, sink, topic, ph["@SINK_FILE@"])
	if a := send(t, "POST", ws[1].url+"/connectors", "application/json", []byte(create)); a.status != http.StatusCreated {
		t.Fatalf("create %s: %v", sink, a)
	} else if want := ws[1].url + "/connectors/" + sink; a.location != want {
		// As Kafka Connect, also when forwarded: the worker asked.
		t.Errorf("create %s: Location %q, want %q", sink, a.location, want)
	}
	// The other worker creates (PUT) and the first deletes a second
	// connector: one of the two writes is forwarded to the leader.
	other := sink + "-put"
	if a := send(t, "PUT", ws[0].url+"/connectors/"+other+"/config", "application/json", []byte(fileSink(`,"file":"/dev/null"`))); a.status != http.StatusCreated {
		t.Fatalf("PUT /connectors/%s/config: %v", other, a)
	} else if want := ws[0].url + "/connectors/" + other; a.location != want {
		t.Errorf("PUT /connectors/%s/config: Location %q, want %q", other, a.location, want)
	}
	if a := send(t, "DELETE", ws[1].url+"/connectors/"+other, "", nil); a.status != http.StatusNoContent {
		t.Fatalf("DELETE /connectors/%s: %v", other, a)
	}
	for _, w := range ws {
		eventually(t, time.Minute, w.id+" sees "+sink, func() error {
			if a := send(t, "GET", w.url+"/connectors/"+sink, "", nil); a.status != http.StatusOK {
				return fmt.Errorf("GET /connectors/%s: %v", sink, a)
			}
			return nil
		})
	}

	tests := []struct {
		name string
		// fixture names a recorded exchange: its request is sent (unless
		// method is set) and its status and, unless javaMsg, its message
		// are expected.
		fixture string
		method  string
		path    string
		ctype   string
		body    string
		// status and message are expected when there is no fixture.
		status  int
		message string
		// javaMsg: the recorded message is a Java text (parser positions,
		// NullPointerException): the message must contain every one of
		// names instead.
		javaMsg bool
		// prefix: the message is compared up to its end (the rest lists
		// Kafka's own plugins).
		prefix string
		names  []string
	}{
		// Malformed bodies: 500, as Kafka Connect.
		{name: "create malformed JSON", fixture: "create-malformed-json", javaMsg: true, names: []string{"malformed JSON"}},
		{name: "create empty body", fixture: "create-empty-body", javaMsg: true, names: []string{"body is empty"}},
		{name: "create without config", fixture: "create-no-config", javaMsg: true, names: []string{"no config"}},
		{name: "put config malformed JSON", fixture: "put-config-malformed", javaMsg: true, names: []string{"malformed JSON"}},
		{name: "put config malformed JSON on an existing connector", fixture: "put-config-malformed", method: "PUT",
			path: "/connectors/" + sink + "/config", body: `{"connector.class"`, javaMsg: true, names: []string{"malformed JSON"}},
		{name: "put config not an object", method: "PUT", path: "/connectors/x/config", body: `["connector.class"]`,
			status: 500, names: []string{"malformed JSON"}},
		{name: "create with config not an object", method: "POST", path: "/connectors", body: `{"name":"bad","config":"topics=t"}`,
			status: 500, names: []string{"malformed JSON", "config"}},
		{name: "create with an object config value", method: "POST", path: "/connectors",
			body:   `{"name":"bad","config":` + fileSink(`,"file":{"path":"/dev/null"}`) + `}`,
			status: 500, names: []string{"malformed JSON", `"file"`, "object"}},
		{name: "put config with an array value", method: "PUT", path: "/connectors/bad/config",
			body: fileSink(`,"topics.regex":["a","b"]`), status: 500, names: []string{"malformed JSON", `"topics.regex"`, "array"}},
		{name: "patch config with an array value", method: "PATCH", path: "/connectors/" + sink + "/config",
			body: `{"tasks.max":[2]}`, status: 500, names: []string{"malformed JSON", `"tasks.max"`, "array"}},
		{name: "validate with an object value", method: "PUT", path: "/connector-plugins/FileStreamSink/config/validate",
			body: fileSink(`,"name":"v","file":{}`), status: 500, names: []string{"malformed JSON", `"file"`, "object"}},
		{name: "create wrong content type", fixture: "create-wrong-content-type"},
		{name: "validate malformed JSON", fixture: "validate-malformed", javaMsg: true, names: []string{"malformed JSON"}},

		// Invalid configurations: 400.
		{name: "create without name", fixture: "create-no-name"},
		{name: "create blank name", fixture: "create-blank-name"},
		{name: "create name mismatch", fixture: "create-name-mismatch"},
		{name: "create without connector.class", fixture: "create-no-connector-class"},
		{name: "create without connector.class, numeric name", method: "POST", path: "/connectors",
			body: `{"name":42,"config":{"topics":"` + topic + `"}}`, status: 400,
			message: "Connector config {name=42, topics=" + topic + "} contains no connector type"},
		{name: "create unknown class", fixture: "create-unknown-class",
			prefix: "Failed to find any class that implements Connector and which name matches com.example.NoSuchConnector, available connectors are: ",
			names:  []string{"org.apache.kafka.connect.file.FileStreamSinkConnector"}},
		{name: "create sink without topics", fixture: "create-sink-no-topics"},
		{name: "create source without topic", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":{"connector.class":"FileStreamSource","file":"/dev/null"}}`, status: 400,
			message: "Connector configuration is invalid and contains the following 1 error(s):\n" +
				"Missing required configuration \"topic\" which has no default value.\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "create tasks.max 0", fixture: "create-tasks-max-zero"},
		{name: "create tasks.max abc", fixture: "create-tasks-max-abc"},
		{name: "create tasks.max negative", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":` + fileSink(`,"tasks.max":"-3"`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 1 error(s):\n" +
				"Invalid value -3 for configuration tasks.max: Value must be at least 1\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "create tasks.max as JSON number 0", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":` + fileSink(`,"tasks.max":0`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 1 error(s):\n" +
				"Invalid value 0 for configuration tasks.max: Value must be at least 1\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "create tasks.max fraction", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":` + fileSink(`,"tasks.max":"1.5"`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 2 error(s):\n" +
				"Invalid value 1.5 for configuration tasks.max: Not a number of type INT\n" +
				"Invalid value null for configuration tasks.max: Value must be non-null\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "create tasks.max empty", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":` + fileSink(`,"tasks.max":""`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 2 error(s):\n" +
				"Invalid value  for configuration tasks.max: Not a number of type INT\n" +
				"Invalid value null for configuration tasks.max: Value must be non-null\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "create tasks.max beyond INT", method: "POST", path: "/connectors",
			body: `{"name":"bad","config":` + fileSink(`,"tasks.max":"2147483648"`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 2 error(s):\n" +
				"Invalid value 2147483648 for configuration tasks.max: Not a number of type INT\n" +
				"Invalid value null for configuration tasks.max: Value must be non-null\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},
		{name: "put config tasks.max abc", fixture: "put-config-tasks-max-abc"},
		{name: "put config tasks.max abc on an existing connector", fixture: "put-config-tasks-max-abc", method: "PUT",
			path: "/connectors/" + sink + "/config", body: fileSink(`,"tasks.max":"abc"`)},
		{name: "put config name mismatch", fixture: "put-config-name-mismatch"},
		{name: "patch config tasks.max 0", method: "PATCH", path: "/connectors/" + sink + "/config", body: `{"tasks.max":"0"}`,
			status: 400, message: "Connector configuration is invalid and contains the following 1 error(s):\n" +
				"Invalid value 0 for configuration tasks.max: Value must be at least 1\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},

		// Duplicate name: 409; Kafka Connect validates first, so an invalid
		// configuration under an existing name is 400.
		{name: "create duplicate", method: "POST", path: "/connectors",
			body:   `{"name":"` + sink + `","config":` + fileSink(`,"file":"/dev/null"`) + `}`,
			status: 409, message: "Connector " + sink + " already exists"},
		{name: "create duplicate with invalid tasks.max", method: "POST", path: "/connectors",
			body: `{"name":"` + sink + `","config":` + fileSink(`,"tasks.max":"0"`) + `}`, status: 400,
			message: "Connector configuration is invalid and contains the following 1 error(s):\n" +
				"Invalid value 0 for configuration tasks.max: Value must be at least 1\n" +
				"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"},

		// Unknown connector: 404.
		{name: "info of unknown", fixture: "connector-unknown"},
		{name: "config of unknown", fixture: "connector-unknown-config"},
		{name: "status of unknown", fixture: "connector-unknown-status"},
		{name: "tasks of unknown", fixture: "connector-unknown-tasks"},
		{name: "task status of unknown", fixture: "connector-unknown-task-status"},
		{name: "offsets of unknown", fixture: "connector-unknown-offsets"},
		{name: "patch config of unknown", fixture: "patch-config-unknown"},
		{name: "pause unknown", fixture: "pause-unknown"},
		{name: "resume unknown", fixture: "resume-unknown"},
		{name: "stop unknown", fixture: "stop-unknown"},
		{name: "restart unknown", fixture: "restart-unknown"},
		{name: "restart unknown with includeTasks", fixture: "restart-unknown", method: "POST",
			path: "/connectors/nope/restart?includeTasks=true&onlyFailed=true"},
		{name: "restart unknown task", fixture: "task-restart-unknown", method: "POST", path: "/connectors/" + sink + "/tasks/7/restart",
			status: 404, message: "Unknown task: " + sink + "-7"},
		{name: "status of unknown task", fixture: "task-status-unknown", method: "GET", path: "/connectors/" + sink + "/tasks/7/status",
			status: 404, message: "No status found for task " + sink + "-7"},
		{name: "status of a task id that is no number", fixture: "unknown-path", method: "GET",
			path: "/connectors/" + sink + "/tasks/first/status"},
		{name: "restart of a task id that is no number", fixture: "unknown-path", method: "POST",
			path: "/connectors/" + sink + "/tasks/0x1/restart"},
		{name: "delete unknown", fixture: "delete-again", method: "DELETE", path: "/connectors/nope",
			status: 404, message: "Connector nope not found"},

		// Plugins.
		{name: "config of unknown plugin", fixture: "plugin-config-unknown"},
		{name: "validate unknown plugin", fixture: "validate-unknown-plugin", javaMsg: true,
			names: []string{"Failed to find any class that implements Connector and which name matches NoSuchConnector"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, ctype, body := tt.method, tt.path, tt.ctype, []byte(nil)
			if tt.body != "" {
				body = []byte(tt.body)
			}
			status, message, wantCT := tt.status, tt.message, "application/json"
			if tt.fixture != "" {
				fx := loadConnectFixture(t, tt.fixture, ph)
				if method == "" {
					method, path, ctype = fx.Request.Method, fx.Request.Path, fx.Request.ContentType
					switch {
					case fx.Request.BodyRaw != nil:
						body = []byte(*fx.Request.BodyRaw)
					case len(fx.Request.Body) > 0:
						body = fx.Request.Body
					}
				}
				if status == 0 {
					status, wantCT = fx.Response.Status, fx.Response.ContentType
					var e errorAnswer
					if err := json.Unmarshal(fx.Response.Body, &e); err != nil || e.Message == nil {
						t.Fatalf("fixture %s: not an error body: %s", tt.fixture, fx.Response.Body)
					}
					message = *e.Message
				}
			}
			if body != nil && ctype == "" {
				ctype = "application/json"
			}
			var first answer
			for i, w := range ws {
				var a answer
				eventually(t, 30*time.Second, "an answer from "+w.id, func() error {
					a = send(t, method, w.url+path, ctype, body)
					if rebalancing(a) {
						return fmt.Errorf("%v", a)
					}
					return nil
				})
				if a.status != status || a.contentType != wantCT {
					t.Errorf("%s %s to %s: %v\nwant status %d, Content-Type %q", method, path, w.id, a, status, wantCT)
				}
				var e errorAnswer
				dec := json.NewDecoder(bytes.NewReader(a.body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&e); err != nil || e.ErrorCode == nil || e.Message == nil {
					t.Fatalf("%s %s to %s: body %s is not {\"error_code\",\"message\"} (%v)", method, path, w.id, a.body, err)
				}
				if *e.ErrorCode != status {
					t.Errorf("%s %s to %s: error_code %d, want %d", method, path, w.id, *e.ErrorCode, status)
				}
				switch {
				case tt.prefix != "":
					if !strings.HasPrefix(*e.Message, tt.prefix) {
						t.Errorf("%s %s to %s: message %q, want prefix %q (Kafka Connect: %q)", method, path, w.id, *e.Message, tt.prefix, message)
					}
				case tt.javaMsg || message == "":
				default:
					if *e.Message != message {
						t.Errorf("%s %s to %s: message\n%q\nwant (Kafka Connect)\n%q", method, path, w.id, *e.Message, message)
					}
				}
				for _, n := range tt.names {
					if !strings.Contains(*e.Message, n) {
						t.Errorf("%s %s to %s: message %q does not name %q", method, path, w.id, *e.Message, n)
					}
				}
				// The leader and the forwarding worker answer alike.
				if i == 0 {
					first = a
				} else if a.status != first.status || !bytes.Equal(a.body, first.body) || a.contentType != first.contentType {
					t.Errorf("%s %s: %s answers %v, %s answers %v", method, path, ws[0].id, first, w.id, a)
				}
			}
		})
	}

	// Nothing above was created, and the existing connector is unchanged.
	for _, w := range ws {
		eventually(t, 30*time.Second, "connectors on "+w.id, func() error {
			a := send(t, "GET", w.url+"/connectors", "", nil)
			var names []string
			if err := json.Unmarshal(a.body, &names); err != nil || !slices.Equal(names, []string{sink}) {
				return fmt.Errorf("GET /connectors: %v, want [%q]", a, sink)
			}
			return nil
		})
		a := send(t, "GET", w.url+"/connectors/"+sink+"/config", "", nil)
		var cfg map[string]string
		if err := json.Unmarshal(a.body, &cfg); err != nil || cfg["tasks.max"] != "1" || cfg["file"] != ph["@SINK_FILE@"] {
			t.Errorf("GET /connectors/%s/config on %s: %v", sink, w.id, a)
		}
	}
}

// TestWorkerBadInputValidate checks PUT
// /connector-plugins/FileStreamSink/config/validate on a worker: a bad
// configuration answers 200 with error_count > 0 and the errors on the keys
// at fault, as Kafka Connect's recorded answer.
func TestWorkerBadInputValidate(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	var topics []string
	t.Cleanup(func() { dropClusterState(t, brokers, topics) })
	ws := newCluster(t, brokers, 1)
	topics = internalTopics(t, ws)
	fx := loadConnectFixture(t, "validate-errors", nil)
	type infos struct {
		Name       string `json:"name"`
		ErrorCount int    `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	// errorsByKey lists the keys with errors and their messages.
	errorsByKey := func(in infos) map[string][]string {
		out := map[string][]string{}
		for _, c := range in.Configs {
			if len(c.Value.Errors) > 0 {
				out[c.Value.Name] = c.Value.Errors
			}
		}
		return out
	}
	var want infos
	if err := json.Unmarshal(fx.Response.Body, &want); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, plugin, body string
		wantCount          int
		wantErrors         map[string][]string
		// knownBug: Sluice is known to answer otherwise (the reason); the
		// case is skipped while it does, and fails once it no longer does
		// so that the mark is removed.
		knownBug string
	}{
		{"recorded: tasks.max abc, no topics", strings.TrimPrefix(fx.Request.Path, "/connector-plugins/"), string(fx.Request.Body),
			want.ErrorCount, errorsByKey(want), ""},
		{"alias, no file key needed, tasks.max 0", "FileStreamSink/config/validate",
			`{"connector.class":"FileStreamSink","name":"v","topics":"t","tasks.max":"0"}`, 1,
			map[string][]string{"tasks.max": {"Invalid value 0 for configuration tasks.max: Value must be at least 1"}}, ""},
		{"alias, no name", "FileStreamSink/config/validate",
			`{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","topics":"t"}`, 1,
			map[string][]string{"name": {"Missing required configuration \"name\" which has no default value."}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var a answer
			eventually(t, 30*time.Second, "validate", func() error {
				var err error
				a, err = trySend("PUT", ws[0].url+"/connector-plugins/"+tt.plugin, "application/json", []byte(tt.body))
				if err != nil {
					return err
				}
				if a.status != http.StatusOK {
					return fmt.Errorf("%v", a)
				}
				return nil
			})
			var got infos
			if err := json.Unmarshal(a.body, &got); err != nil {
				t.Fatalf("%v: %v", a, err)
			}
			g := errorsByKey(got)
			same := got.ErrorCount == tt.wantCount && fmt.Sprint(g) == fmt.Sprint(tt.wantErrors)
			switch {
			case tt.knownBug != "" && !same:
				t.Skipf("known divergence from Kafka Connect (%s): error_count %d, errors %v; want %d, %v", tt.knownBug, got.ErrorCount, g, tt.wantCount, tt.wantErrors)
			case tt.knownBug != "":
				t.Errorf("answers as Kafka Connect now: remove knownBug %q", tt.knownBug)
			}
			if got.Name != "org.apache.kafka.connect.file.FileStreamSinkConnector" || got.ErrorCount != tt.wantCount {
				t.Errorf("name %q, error_count %d; want %s, %d", got.Name, got.ErrorCount, "org.apache.kafka.connect.file.FileStreamSinkConnector", tt.wantCount)
			}
			if fmt.Sprint(g) != fmt.Sprint(tt.wantErrors) {
				t.Errorf("errors by key:\n%v\nwant\n%v", g, tt.wantErrors)
			}
		})
	}
}

// TestWorkerBadInputLeaderGone: a write reaching a worker whose leader has
// just died (SIGKILL; the group has not noticed yet) cannot be forwarded:
// Kafka Connect's 500 "IO Error trying to forward REST request: …" as a
// JSON error body. Once the group has moved on, the survivor leads and
// answers itself.
func TestWorkerBadInputLeaderGone(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	var topics []string
	t.Cleanup(func() { dropClusterState(t, brokers, topics) })
	ws := newCluster(t, brokers, 2)
	topics = internalTopics(t, ws)

	// A request marked as already forwarded is served by the leader only
	// (another worker answers 409 instead of forwarding it again).
	leader, follower := -1, -1
	eventually(t, time.Minute, "one leader, one follower", func() error {
		var codes []int
		for _, w := range ws {
			req, err := http.NewRequest("PUT", w.url+"/connectors/nope/pause", nil)
			if err != nil {
				return err
			}
			req.Header.Set("X-Sluice-Forwarded", "test")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		switch {
		case codes[0] == http.StatusNotFound && codes[1] == http.StatusConflict:
			leader, follower = 0, 1
		case codes[0] == http.StatusConflict && codes[1] == http.StatusNotFound:
			leader, follower = 1, 0
		default:
			return fmt.Errorf("answers %v, want one 404 (leader) and one 409", codes)
		}
		// The follower knows the leader: it forwards.
		a, err := trySend("PUT", ws[follower].url+"/connectors/nope/pause", "", nil)
		if err != nil || a.status != http.StatusNotFound {
			return fmt.Errorf("follower: %v %v", a, err)
		}
		return nil
	})

	if err := ws[leader].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-ws[leader].done
	// session.timeout.ms is 6 s: the follower still names the dead leader.
	a := send(t, "PUT", ws[follower].url+"/connectors/nope/pause", "", nil)
	var e errorAnswer
	if err := json.Unmarshal(a.body, &e); err != nil || e.ErrorCode == nil || e.Message == nil {
		t.Fatalf("answer %v is not a JSON error body", a)
	}
	if a.status != http.StatusInternalServerError || *e.ErrorCode != 500 || a.contentType != "application/json" ||
		!strings.HasPrefix(*e.Message, "IO Error trying to forward REST request: ") {
		t.Errorf("write with the leader gone: %v, want 500 IO Error trying to forward REST request", a)
	}
	eventually(t, time.Minute, "the survivor leads", func() error {
		a, err := trySend("PUT", ws[follower].url+"/connectors/nope/pause", "", nil)
		if err != nil || a.status != http.StatusNotFound || !bytes.Contains(a.body, []byte("Unknown connector nope")) {
			return fmt.Errorf("%v %v", a, err)
		}
		return nil
	})
}
