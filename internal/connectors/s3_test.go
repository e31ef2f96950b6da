package connectors

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/runtime"
)

// TestS3Plugin checks the S3 sink's class and aliases, its required keys
// and defaults, and that validation reports a bad value naming its key.
func TestS3Plugin(t *testing.T) {
	reg, err := runtime.NewRegistry(Plugins(Options{Version: "1.0", Base: daemon.DefaultConfig()})...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{S3SinkClass, "S3SinkConnector", "s3"} {
		p, ok := reg.Lookup(name)
		if !ok {
			t.Fatalf("no plugin for %s", name)
		}
		if p.Class != S3SinkClass || p.Type != runtime.SinkType || p.NewSink == nil {
			t.Errorf("%s: plugin %s of type %s", name, p.Class, p.Type)
		}
	}
	p, _ := reg.Lookup("s3")
	defs := map[string]runtime.ConfigKey{}
	for _, k := range p.Definitions() {
		defs[k.Name] = k
	}
	for _, name := range []string{"s3.bucket.name", "flush.size"} {
		if !defs[name].Required {
			t.Errorf("%s = %+v, want required", name, defs[name])
		}
	}
	if k := defs["rotate.interval.ms"]; k.Type != runtime.TypeLong || k.Default == nil || *k.Default != "-1" {
		t.Errorf("rotate.interval.ms = %+v", k)
	}
	if k := defs["aws.secret.access.key"]; k.Type != runtime.TypePassword {
		t.Errorf("aws.secret.access.key = %+v, want a password", k)
	}
	if k := defs["topics.dir"]; k.Default == nil || *k.Default != "topics" {
		t.Errorf("topics.dir = %+v", k)
	}
	good := map[string]string{"connector.class": "s3", "name": "x", "topics": "t", "s3.bucket.name": "b",
		"flush.size": "100", "format.class": "io.confluent.connect.s3.format.json.JsonFormat"}
	if problems := p.Validate(good); len(problems[""]) != 0 {
		t.Errorf("problems of a good config = %v", problems)
	}
	bad := map[string]string{}
	for k, v := range good {
		bad[k] = v
	}
	bad["partitioner.class"] = "io.confluent.connect.storage.partitioner.HourlyPartitioner"
	bad["timezone"] = "UTC"
	problems := p.Validate(bad)
	if got := strings.Join(problems[""], "; "); !strings.Contains(got, "locale: is required") {
		t.Errorf("problems = %v, want locale named", problems)
	}
	if !p.Accepts("consumer.override.session.timeout.ms") || p.Accepts("linger") {
		t.Error("Accepts: consumer overrides only")
	}
}
