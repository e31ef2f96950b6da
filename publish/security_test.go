package publish

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// publishOne publishes and flushes one record and checks it is committed.
func publishOne(t *testing.T, cfg Config) error {
	t.Helper()
	// Failures (bad credentials, bad certificates) end by timing out: the
	// client retries them like any connection error.
	timeout := time.Duration(cfg.DeliveryTimeoutMs) * time.Millisecond
	p, err := New(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Publish(ctx, []Record{{Topic: "secure", Key: []byte("k"), Value: []byte("v"), Position: 7}}); err != nil {
		return err
	}
	if err := p.Flush(ctx); err != nil {
		return err
	}
	if pos, _ := p.Tracker().Committed(); pos != 7 {
		t.Fatalf("committed %v, want 7", pos)
	}
	return nil
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "sluice", "s3cret"))
			cfg := testConfig(c.ListenAddrs())
			cfg.Security = SecurityConfig{Protocol: "SASL_PLAINTEXT", SASLMechanism: mech, SASLUsername: "sluice", SASLPassword: "s3cret"}
			if err := publishOne(t, cfg); err != nil {
				t.Fatalf("good credentials: %v", err)
			}
			cfg.Security.SASLPassword = "wrong"
			cfg.DeliveryTimeoutMs = 2000
			err := publishOne(t, cfg)
			if err == nil {
				t.Fatal("wrong password accepted")
			}
			t.Logf("wrong password: %v", err)
		})
	}
}

// writeCert creates a self-signed CA-capable certificate for 127.0.0.1 and
// writes it and its key as PEM files.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, _, server := writeCert(t, dir, "server")
	clientCert, clientKey, client := writeCert(t, dir, "client")
	clientPool := x509.NewCertPool()
	clientPool.AddCert(client.Leaf)
	c := newCluster(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
		MinVersion:   tls.VersionTLS12,
	}))
	base := testConfig(c.ListenAddrs())
	base.DeliveryTimeoutMs = 3000

	tests := []struct {
		name string
		sec  SecurityConfig
		ok   bool
	}{
		{"CA and client cert", SecurityConfig{Protocol: "SSL", CAFile: serverCert, CertFile: clientCert, KeyFile: clientKey}, true},
		{"insecure skip verify", SecurityConfig{Protocol: "SSL", InsecureSkipVerify: true, CertFile: clientCert, KeyFile: clientKey}, true},
		{"unknown server CA", SecurityConfig{Protocol: "SSL", CertFile: clientCert, KeyFile: clientKey}, false},
		{"no client cert", SecurityConfig{Protocol: "SSL", CAFile: serverCert}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Security = tt.sec
			err := publishOne(t, cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("publish: %v, want success %v", err, tt.ok)
			}
		})
	}
	t.Run("missing CA file", func(t *testing.T) {
		cfg := base
		cfg.Security = SecurityConfig{Protocol: "SSL", CAFile: filepath.Join(dir, "nope.pem")}
		if _, err := New(cfg); err == nil {
			t.Fatal("New accepted a missing CA file")
		}
	})
}
