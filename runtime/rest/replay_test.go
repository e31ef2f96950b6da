package rest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

const fixtureDir = "../../testdata/connect-rest"

// Fixtures compared by shape only (Sluice lists its own plugins, loggers and
// definitions; README rules 2 and 5), on top of the volatile keys.
var shapeOnly = map[string]bool{
	"connector-plugins": true, "connector-plugins-all": true, "plugin-config-alias": true,
	"plugin-config-class": true, "plugin-config-source": true, "validate-ok": true,
	"validate-errors": true, "loggers": true, "logger-get": true, "loggers-after-set": true,
}

// Error messages not compared: Java-specific texts (Jackson parse positions,
// NullPointerException texts, PluginDesc dumps; README rule 4). Their status
// and error_code are still compared exactly. For create-unknown-class the
// message is compared up to the list of available connectors.
var javaMessage = map[string]bool{
	"validate-unknown-plugin": true, "validate-malformed": true, "create-malformed-json": true,
	"create-empty-body": true, "create-no-config": true, "put-config-malformed": true,
	"sink-offsets-patch-malformed": true,
}

// Paths rewritten for Sluice: a logger Kafka's log4j has and Sluice has not.
var pathRewrite = map[string][2]string{
	"logger-get": {"/admin/loggers/org.apache.kafka.clients", "/admin/loggers/" + runtime.RootLogger},
}

// Fixtures skipped on purpose: none. (Every one of the 124 is replayed.)
var skipped = map[string]string{}

type fixture struct {
	Seq   int    `json:"seq"`
	Name  string `json:"name"`
	Await *struct {
		Path           string   `json:"path"`
		Status         int      `json:"status"`
		ConnectorState string   `json:"connector_state"`
		TaskStates     []string `json:"task_states"`
		Nonempty       []string `json:"nonempty"`
	} `json:"await"`
	Request struct {
		Method      string          `json:"method"`
		Path        string          `json:"path"`
		ContentType string          `json:"content_type"`
		Body        json.RawMessage `json:"body"`
		BodyRaw     *string         `json:"body_raw"`
	} `json:"request"`
	Response struct {
		Status      int     `json:"status"`
		ContentType string  `json:"content_type"`
		Location    string  `json:"location"`
		Body        any     `json:"body"`
		DynamicKeys [][]any `json:"dynamic_keys"`
	} `json:"response"`
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// env is a worker over real Kafka with the fixture's topics and files.
type env struct {
	srv          *httptest.Server
	placeholders map[string]string
	sinkFile     string
}

func startEnv(t *testing.T) *env {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	ctx := t.Context()
	prefix := "sluice-rest-" + randomSuffix(t)
	dir := t.TempDir()
	e := &env{placeholders: map[string]string{
		"@SINK_TOPIC@":    prefix + "-sink-in",
		"@SOURCE_TOPIC@":  prefix + "-source-out",
		"@BAD_TOPIC@":     prefix + "-not-json",
		"@SINK_FILE@":     filepath.Join(dir, "sink.txt"),
		"@SINK_PUT_FILE@": filepath.Join(dir, "sink-put.txt"),
		"@SOURCE_FILE@":   filepath.Join(dir, "source.txt"),
		"@RUN_DIR@":       dir,
		"@RUN_PREFIX@":    prefix,
	}}
	e.sinkFile = e.placeholders["@SINK_FILE@"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	topics := []string{e.placeholders["@SINK_TOPIC@"], e.placeholders["@SOURCE_TOPIC@"], e.placeholders["@BAD_TOPIC@"]}
	// The sink groups are named after the fixed connector names: clear what
	// an earlier run left.
	groups := []string{"connect-file-sink", "connect-file-sink-put", "connect-file-sink-failing", "connect-bad"}
	_, _ = adm.DeleteGroups(ctx, groups...)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = adm.DeleteGroups(ctx, groups...)
		_, _ = adm.DeleteTopics(ctx, topics...)
	})
	var recs []*kgo.Record
	for _, v := range []string{`{"id":1,"name":"alpha"}`, `{"id":2,"name":"beta"}`, `{"id":3,"name":"gamma"}`} {
		recs = append(recs, &kgo.Record{Topic: topics[0], Value: []byte(v)})
	}
	recs = append(recs, &kgo.Record{Topic: topics[2], Value: []byte("this is not json")})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.placeholders["@SOURCE_FILE@"], []byte("first line\nsecond line\nthird line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := offsets.Open(filepath.Join(dir, "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	logs := runtime.NewLoggers(slog.NewTextHandler(io.Discard, nil), slog.LevelInfo)
	logs.Logger("sluice.runtime")
	h, err := runtime.NewHerder(runtime.Config{WorkerID: "127.0.0.1:8083", Brokers: brokers, Offsets: store, Version: "test", Loggers: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e.srv = httptest.NewServer(rest.New(h, rest.Config{}, nil))
	t.Cleanup(e.srv.Close)
	e.placeholders["@BASE_URL@"] = e.srv.URL
	return e
}

func (e *env) substitute(s string) string {
	for k, v := range e.placeholders {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

func TestReplayKafkaConnectFixtures(t *testing.T) {
	e := startEnv(t)
	files, err := filepath.Glob(filepath.Join(fixtureDir, "[0-9][0-9][0-9]-*.json"))
	if err != nil || len(files) != 124 {
		t.Fatalf("fixtures: %d files, %v", len(files), err)
	}
	slices.Sort(files)
	var volatile []string
	readJSONFile(t, filepath.Join(fixtureDir, "manifest.json"), &struct {
		VolatileKeys *[]string `json:"volatile_keys"`
	}{&volatile})
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal([]byte(e.substitute(string(raw))), &fx); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if why, ok := skipped[fx.Name]; ok {
			t.Logf("%03d %s skipped: %s", fx.Seq, fx.Name, why)
			continue
		}
		if rw, ok := pathRewrite[fx.Name]; ok {
			fx.Request.Path = strings.Replace(fx.Request.Path, rw[0], rw[1], 1)
		}
		label := fmt.Sprintf("%03d %s %s %s", fx.Seq, fx.Name, fx.Request.Method, fx.Request.Path)
		if fx.Await != nil {
			e.await(t, label, fx.Await.Path, fx.Await.Status, fx.Await.ConnectorState, fx.Await.TaskStates, fx.Await.Nonempty)
		}
		status, header, body := e.send(t, fx)
		if status != fx.Response.Status {
			t.Errorf("%s: status %d, want %d (body %s)", label, status, fx.Response.Status, body)
			continue
		}
		if got := header.Get("Content-Type"); (fx.Response.ContentType == "") != (got == "") {
			t.Errorf("%s: Content-Type %q, want %q", label, got, fx.Response.ContentType)
		}
		if got := header.Get("Location"); got != fx.Response.Location {
			t.Errorf("%s: Location %q, want %q", label, got, fx.Response.Location)
		}
		if fx.Response.Body == nil {
			if len(bytes.TrimSpace(body)) != 0 {
				t.Errorf("%s: body %s, want none", label, body)
			}
			continue
		}
		var got any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", label, body, err)
			continue
		}
		want := maskSecrets(fx.Response.Body)
		c := &comparer{volatile: volatile}
		switch {
		case shapeOnly[fx.Name] && len(fx.Response.DynamicKeys) > 0:
			c.shapeOfMapValues(want, got)
		case shapeOnly[fx.Name]:
			c.shape("", []any{want}, got)
		default:
			c.exact("", want, got, javaMessage[fx.Name], fx.Name == "create-unknown-class")
		}
		if strings.HasPrefix(fx.Name, "validate-") && status == 200 {
			c.validationErrors(want, got)
		}
		for _, p := range c.problems {
			t.Errorf("%s: %s", label, p)
		}
		if len(c.problems) > 0 {
			t.Logf("%s: got %s", label, body)
		}
	}
	// The sink wrote the three records of the sink topic, as JSON lines
	// (twice: once more after its offsets were reset and it resumed).
	want := strings.Repeat("{\"id\":1,\"name\":\"alpha\"}\n{\"id\":2,\"name\":\"beta\"}\n{\"id\":3,\"name\":\"gamma\"}\n", 2)
	got, err := os.ReadFile(e.sinkFile)
	if err != nil || !strings.HasPrefix(want, string(got)) || len(got) < len(want)/2 {
		t.Errorf("sink file = %q, %v; want (a prefix of) %q", got, err, want)
	}
}

func readJSONFile(t *testing.T, path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func (e *env) send(t *testing.T, fx fixture) (int, http.Header, []byte) {
	var body io.Reader
	switch {
	case fx.Request.BodyRaw != nil:
		body = strings.NewReader(*fx.Request.BodyRaw)
	case len(fx.Request.Body) > 0:
		body = bytes.NewReader(fx.Request.Body)
	}
	req, err := http.NewRequestWithContext(t.Context(), fx.Request.Method, e.srv.URL+fx.Request.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if fx.Request.ContentType != "" {
		req.Header.Set("Content-Type", fx.Request.ContentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// await polls path as the recorder did (README, "await"); it gives up after
// two minutes.
func (e *env) await(t *testing.T, label, path string, status int, connState string, taskStates []string, nonempty []string) {
	t.Helper()
	if status == 0 {
		status = http.StatusOK
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		if resp.StatusCode == status && awaitBody(b, connState, taskStates, nonempty) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: await %s never matched; last answer %s", label, path, last)
}

func awaitBody(b []byte, connState string, taskStates []string, nonempty []string) bool {
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	if connState != "" {
		c, _ := v["connector"].(map[string]any)
		if c == nil || c["state"] != connState {
			return false
		}
	}
	if taskStates != nil {
		ts, _ := v["tasks"].([]any)
		got := []string{}
		for _, t := range ts {
			m, _ := t.(map[string]any)
			s, _ := m["state"].(string)
			got = append(got, s)
		}
		if !slices.Equal(got, taskStates) {
			return false
		}
	}
	if nonempty != nil {
		var cur any = v
		for _, k := range nonempty {
			m, _ := cur.(map[string]any)
			cur = m[k]
		}
		a, _ := cur.([]any)
		return len(a) > 0
	}
	return true
}

// maskSecrets replaces the values of secret keys by runtime.Hidden: Sluice
// masks them where Kafka Connect answers them verbatim.
func maskSecrets(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if _, ok := x.(string); ok && runtime.Secret(k) {
				out[k] = runtime.Hidden
				continue
			}
			out[k] = maskSecrets(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = maskSecrets(x)
		}
		return out
	}
	return v
}

type comparer struct {
	volatile []string
	problems []string
}

func (c *comparer) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// exact compares values exactly, except volatile keys (type only), the
// "tasks" list of create/update answers (element shape only, README rule 3)
// and, when skipMessage, the error message.
func (c *comparer) exact(path string, want, got any, skipMessage, messagePrefix bool) {
	if jsonType(want) != jsonType(got) {
		c.fail("%s: %s %v, want %s %v", path, jsonType(got), got, jsonType(want), want)
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if !slices.Equal(sortedKeys(w), sortedKeys(g)) {
			c.fail("%s: keys %v, want %v", path, sortedKeys(g), sortedKeys(w))
			return
		}
		_, isInfo := w["config"]
		for k, wv := range w {
			p := path + "." + k
			switch {
			case slices.Contains(c.volatile, k):
				if jsonType(wv) != jsonType(g[k]) && !(k == "last_modified") {
					c.fail("%s: %s, want %s", p, jsonType(g[k]), jsonType(wv))
				}
			case k == "message" && skipMessage:
			case k == "message" && messagePrefix:
				ws, gs := wv.(string), fmt.Sprint(g[k])
				cut := strings.Index(ws, "available connectors are: ") + len("available connectors are: ")
				if !strings.HasPrefix(gs, ws[:cut]) {
					c.fail("%s: %q, want prefix %q", p, gs, ws[:cut])
				}
			case k == "tasks" && isInfo:
				c.shape(p, []any{wv}, g[k])
			default:
				c.exact(p, wv, g[k], skipMessage, messagePrefix)
			}
		}
	case []any:
		g := got.([]any)
		if len(w) != len(g) {
			c.fail("%s: %d elements, want %d", path, len(g), len(w))
			return
		}
		for i := range w {
			c.exact(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], skipMessage, messagePrefix)
		}
	default:
		if want != got {
			c.fail("%s: %v, want %v", path, got, want)
		}
	}
}

// shape checks that got has one of the shapes of wants: the same JSON type,
// an object's key set equal to one of the wanted objects', and recursively
// the members and array elements (an empty wanted array matches any).
func (c *comparer) shape(path string, wants []any, got any) {
	gt := jsonType(got)
	var same []any
	for _, w := range wants {
		if jsonType(w) == gt {
			same = append(same, w)
		}
	}
	if len(same) == 0 {
		types := []string{}
		for _, w := range wants {
			types = append(types, jsonType(w))
		}
		c.fail("%s: %s, want one of %v", path, gt, types)
		return
	}
	switch g := got.(type) {
	case map[string]any:
		keys := sortedKeys(g)
		var match []map[string]any
		for _, w := range same {
			if wm := w.(map[string]any); slices.Equal(sortedKeys(wm), keys) {
				match = append(match, wm)
			}
		}
		if len(match) == 0 {
			c.fail("%s: keys %v, want %v", path, keys, sortedKeys(same[0].(map[string]any)))
			return
		}
		for _, k := range keys {
			vals := make([]any, len(match))
			for i, m := range match {
				vals[i] = m[k]
			}
			c.shape(path+"."+k, vals, g[k])
		}
	case []any:
		var elems []any
		for _, w := range same {
			elems = append(elems, w.([]any)...)
		}
		if len(elems) == 0 {
			return
		}
		for i, x := range g {
			c.shape(fmt.Sprintf("%s[%d]", path, i), elems, x)
		}
	}
}

// shapeOfMapValues compares a map whose keys are data (README rule 2).
func (c *comparer) shapeOfMapValues(want, got any) {
	w, ok1 := want.(map[string]any)
	g, ok2 := got.(map[string]any)
	if !ok1 || !ok2 || len(g) == 0 {
		c.fail("want a non-empty object, got %v", got)
		return
	}
	vals := make([]any, 0, len(w))
	for _, v := range w {
		vals = append(vals, v)
	}
	for k, v := range g {
		c.shape(k, vals, v)
	}
}

// validationErrors compares error_count and the errors of every key both
// answers define (validation messages are stable, README rule 4).
func (c *comparer) validationErrors(want, got any) {
	w, g := want.(map[string]any), got.(map[string]any)
	if w["error_count"] != g["error_count"] {
		c.fail("error_count %v, want %v", g["error_count"], w["error_count"])
	}
	errs := func(v any) map[string]string {
		out := map[string]string{}
		cs, _ := v.(map[string]any)["configs"].([]any)
		for _, ci := range cs {
			val := ci.(map[string]any)["value"].(map[string]any)
			b, _ := json.Marshal(val["errors"])
			out[val["name"].(string)] = string(b)
		}
		return out
	}
	we, ge := errs(w), errs(g)
	for name, e := range we {
		if gv, ok := ge[name]; ok && gv != e {
			c.fail("errors of %s: %s, want %s", name, gv, e)
		}
	}
}
