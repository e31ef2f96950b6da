package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

// TestGuidedPractical is the seed's practical, standalone: GET
// /connector-plugins answers; POST /connectors creates a file sink; records
// produced with kcat to the real broker appear in the file; the status shows
// the connector and its task RUNNING.
func TestGuidedPractical(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	kcat := testenv.RequireCommand(t, "kcat", "scripts/services.sh up kafka installs it")
	ctx := t.Context()
	topic := "sluice-practical-" + randomSuffix(t)
	name := "practical-" + randomSuffix(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = adm.DeleteGroups(t.Context(), runtime.GroupID(name))
		_, _ = adm.DeleteTopics(t.Context(), topic)
	})
	dir := t.TempDir()
	store, err := offsets.Open(filepath.Join(dir, "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := runtime.NewHerder(runtime.Config{WorkerID: "127.0.0.1:8083", Brokers: strings.Split(brokers, ","), Offsets: store})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(rest.New(h, rest.Config{}, nil))
	defer srv.Close()

	var plugins []runtime.PluginInfo
	getJSON(t, srv.URL+"/connector-plugins", &plugins)
	if !slices.ContainsFunc(plugins, func(p runtime.PluginInfo) bool { return p.Class == runtime.FileSinkClass }) {
		t.Fatalf("GET /connector-plugins = %+v, no FileStreamSinkConnector", plugins)
	}

	out := filepath.Join(dir, "out.txt")
	body := `{"name":"` + name + `","config":{"connector.class":"FileStreamSink","tasks.max":"1",` +
		`"topics":"` + topic + `","file":"` + out + `","value.converter":"org.apache.kafka.connect.storage.StringConverter"}}`
	resp, err := http.Post(srv.URL+"/connectors", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /connectors = %d %s", resp.StatusCode, b)
	}

	lines := "hello sluice\n{\"id\":42}\nthird record\n"
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", brokers, "-t", topic)
	cmd.Stdin = strings.NewReader(lines)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v: %s", err, msg)
	}

	deadline := time.Now().Add(time.Minute)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(out)
		if len(got) >= len(lines) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if string(got) != lines {
		t.Fatalf("sink file = %q, want %q", got, lines)
	}

	var st runtime.ConnectorStatus
	getJSON(t, srv.URL+"/connectors/"+name+"/status", &st)
	if st.Connector.State != runtime.StateRunning || len(st.Tasks) != 1 || st.Tasks[0].State != runtime.StateRunning {
		t.Fatalf("status = %+v, want connector and task RUNNING", st)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
