package connectors

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/runtime"
)

// TestElasticsearchPlugin checks the Elasticsearch sink's class and
// aliases, that its keys are declared with their types and defaults, and
// that validation reports a bad value naming its key.
func TestElasticsearchPlugin(t *testing.T) {
	reg, err := runtime.NewRegistry(Plugins(Options{Version: "1.0", Base: daemon.DefaultConfig()})...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ElasticsearchSinkClass, "ElasticsearchSinkConnector", "elasticsearch", "opensearch"} {
		p, ok := reg.Lookup(name)
		if !ok {
			t.Fatalf("no plugin for %s", name)
		}
		if p.Class != ElasticsearchSinkClass || p.Type != runtime.SinkType || p.NewSink == nil {
			t.Errorf("%s: plugin %s of type %s", name, p.Class, p.Type)
		}
	}
	p, _ := reg.Lookup("opensearch")
	defs := map[string]runtime.ConfigKey{}
	for _, k := range p.Definitions() {
		defs[k.Name] = k
	}
	if k := defs["connection.url"]; !k.Required || k.Type != runtime.TypeList {
		t.Errorf("connection.url = %+v, want a required list", k)
	}
	if k := defs["flush.timeout.ms"]; k.Type != runtime.TypeLong || k.Default == nil || *k.Default != "180000" {
		t.Errorf("flush.timeout.ms = %+v", k)
	}
	if k := defs["behavior.on.null.values"]; k.Default == nil || *k.Default != "delete" {
		t.Errorf("behavior.on.null.values = %+v", k)
	}
	problems := p.Validate(map[string]string{"connector.class": "opensearch", "name": "x", "topics": "t",
		"connection.url": "http://127.0.0.1:9200", "write.method": "replace"})
	if got := strings.Join(problems[""], "; "); !strings.Contains(got, `write.method: "replace" is not insert or upsert`) {
		t.Errorf("problems = %v, want write.method named", problems)
	}
	if problems := p.Validate(map[string]string{"connector.class": "opensearch", "name": "x", "topics": "t",
		"connection.url": "http://127.0.0.1:9200"}); len(problems[""]) != 0 {
		t.Errorf("problems of a good config = %v", problems)
	}
	if !p.Accepts("consumer.override.max.poll.records") || p.Accepts("linger") {
		t.Error("Accepts: consumer overrides only")
	}
}
