package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// roundTrip produces one record with a plain client built from
// ConnOptions (no producer settings of the publisher) and reads it back
// with a second such client, as a sink task's consumer would.
func roundTrip(t *testing.T, cfg Config, topic string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts, err := ConnOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	prod, err := kgo.NewClient(append(slices.Clone(opts), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		return err
	}
	defer prod.Close()
	// Ping does not retry, so that a refused login comes back as is
	// (producing would retry it until ctx ends).
	if err := prod.Ping(ctx); err != nil {
		return err
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("secured")}).FirstErr(); err != nil {
		return err
	}
	cons, err := kgo.NewClient(append(slices.Clone(opts), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return err
	}
	defer cons.Close()
	fs := cons.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		return err
	}
	var got []string
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)+"="+string(r.Value)) })
	if want := []string{"k=secured"}; !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}
	return nil
}

// TestConnOptionsSASL: clients built from ConnOptions alone authenticate
// with each mechanism; a wrong password and a plaintext client are
// refused.
func TestConnOptionsSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "sluice", "s3cret"), kfake.SeedTopics(1, "conn"))
			cfg := testConfig(c.ListenAddrs())
			cfg.Security = SecurityConfig{Protocol: "SASL_PLAINTEXT", SASLMechanism: mech, SASLUsername: "sluice", SASLPassword: "s3cret"}
			if err := roundTrip(t, cfg, "conn"); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			cfg.Security.SASLPassword = "wrong"
			// kfake drops the connection (EOF) where Kafka answers
			// SASL_AUTHENTICATION_FAILED first (cmd/sluice's
			// TestRunSASL checks the message against a real broker).
			if err := roundTrip(t, cfg, "conn"); err == nil {
				t.Fatal("wrong password accepted")
			}
			cfg.Security = SecurityConfig{Protocol: "PLAINTEXT"}
			if err := roundTrip(t, cfg, "conn"); err == nil {
				t.Fatal("plaintext client accepted by a SASL-only broker")
			}
		})
	}
}

// TestConnOptionsTLS: a client from ConnOptions verifies the broker with the
// CA file and presents the client certificate.
func TestConnOptionsTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, _, server := writeCert(t, dir, "server")
	clientCert, clientKey, client := writeCert(t, dir, "client")
	clientPool := x509.NewCertPool()
	clientPool.AddCert(client.Leaf)
	c := newCluster(t, kfake.SeedTopics(1, "conn"), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
		MinVersion:   tls.VersionTLS12,
	}))
	cfg := testConfig(c.ListenAddrs())
	cfg.Security = SecurityConfig{Protocol: "SSL", CAFile: serverCert, CertFile: clientCert, KeyFile: clientKey}
	if err := roundTrip(t, cfg, "conn"); err != nil {
		t.Fatalf("CA and client certificate: %v", err)
	}
}

// TestConnOptionsSettings: the options carry the brokers and client id and
// nothing of the publisher's producer settings; bad security settings are
// errors naming the setting.
func TestConnOptionsSettings(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1", "127.0.0.1:2"}
	cfg.ClientID = "sluice-test"
	cfg.LingerMs = 250
	opts, err := ConnOptions(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.SeedBrokers); !slices.Equal(got.([]string), cfg.Brokers) {
		t.Errorf("seed brokers %v, want %v", got, cfg.Brokers)
	}
	if got := cl.OptValue(kgo.ClientID); got != "sluice-test" {
		t.Errorf("client id %v, want sluice-test", got)
	}
	if got := cl.OptValue(kgo.ProducerLinger); got == 250*time.Millisecond {
		t.Errorf("linger %v: ConnOptions applied a producer setting", got)
	}

	tests := []struct {
		name string
		sec  SecurityConfig
		want string
	}{
		{"unknown protocol", SecurityConfig{Protocol: "KERBEROS"}, "security.protocol"},
		{"unknown mechanism", SecurityConfig{Protocol: "SASL_SSL", SASLMechanism: "GSSAPI", SASLUsername: "u"}, "security.sasl.mechanism"},
		{"missing CA file", SecurityConfig{Protocol: "SSL", CAFile: filepath.Join(t.TempDir(), "nope.pem")}, "nope.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Security = tt.sec
			_, err := ConnOptions(c, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
