package avroconv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// fakeRegistryServer speaks the few Confluent Schema Registry endpoints the
// Client uses, with Confluent's JSON and error codes. It is a test double
// of the remote service's protocol for unit tests; the end-to-end checks
// against Sluice's embedded registry (schema/registry) belong with that
// server.
type fakeRegistryServer struct {
	mu       sync.Mutex
	schemas  []string
	subjects map[string][]int
	requests []string
	fail5xx  int    // answer this many requests with 500 first
	reject   int    // status to answer registrations with (409, 422)
	user     string // required basic auth "user:pass", "" for none
}

func (f *fakeRegistryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	fail := func(status, code int, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
	}
	if f.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u+":"+p != f.user {
			fail(401, 401, "Unauthorized")
			return
		}
	}
	if f.fail5xx > 0 {
		f.fail5xx--
		fail(500, 50001, "Error in the backend data store")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var body struct {
		Schema string `json:"schema"`
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(400, 400, err.Error())
			return
		}
	}
	find := func(schema string) int {
		for i, s := range f.schemas {
			if s == schema {
				return i + 1
			}
		}
		return 0
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions":
		switch f.reject {
		case 409:
			fail(409, 409, "Schema being registered is incompatible with an earlier schema for subject \""+parts[1]+"\"")
			return
		case 422:
			fail(422, 42201, "Either the input schema or one its references is invalid")
			return
		}
		id := find(body.Schema)
		if id == 0 {
			f.schemas = append(f.schemas, body.Schema)
			id = len(f.schemas)
		}
		f.subjects[parts[1]] = append(f.subjects[parts[1]], id)
		json.NewEncoder(w).Encode(map[string]int{"id": id})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == "subjects":
		ids, ok := f.subjects[parts[1]]
		if !ok {
			fail(404, 40401, "Subject '"+parts[1]+"' not found.")
			return
		}
		for v, id := range ids {
			if f.schemas[id-1] == body.Schema {
				json.NewEncoder(w).Encode(map[string]any{"subject": parts[1], "version": v + 1, "id": id, "schema": body.Schema})
				return
			}
		}
		fail(404, 40403, "Schema not found")
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "schemas" && parts[1] == "ids":
		id, _ := strconv.Atoi(parts[2])
		if id < 1 || id > len(f.schemas) {
			fail(404, 40403, "Schema "+parts[2]+" not found")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"schema": f.schemas[id-1]})
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "subjects" && parts[3] == "latest":
		ids := f.subjects[parts[1]]
		if len(ids) == 0 {
			fail(404, 40401, "Subject '"+parts[1]+"' not found.")
			return
		}
		id := ids[len(ids)-1]
		json.NewEncoder(w).Encode(map[string]any{"subject": parts[1], "version": len(ids), "id": id, "schema": f.schemas[id-1]})
	default:
		fail(404, 404, "HTTP 404 Not Found")
	}
}

func (f *fakeRegistryServer) reqs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func newFake() *fakeRegistryServer { return &fakeRegistryServer{subjects: map[string][]int{}} }

func testClient(t *testing.T, url string, mod func(*Config), opts ...ClientOption) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SchemaRegistryURL = url
	if mod != nil {
		mod(&cfg)
	}
	opts = append([]ClientOption{WithRetry(3, time.Millisecond, 4*time.Millisecond)}, opts...)
	c, err := NewClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientRegisterLookupCache(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.user = "sluice:s3cret"
	srv := httptest.NewServer(f)
	defer srv.Close()
	cl := testClient(t, srv.URL, func(c *Config) { c.BasicAuthUserInfo = "sluice:s3cret" })
	schema := `{"type":"record","name":"K","fields":[{"name":"id","type":"int"}]}`
	id, err := cl.Register(ctx, "t-key", schema)
	if err != nil || id != 1 {
		t.Fatalf("register: %d %v", id, err)
	}
	if id2, err := cl.Register(ctx, "t-key", schema); err != nil || id2 != 1 {
		t.Fatalf("second register: %d %v", id2, err)
	}
	if got, err := cl.SchemaByID(ctx, 1); err != nil || got != schema {
		t.Fatalf("schema by id: %q %v", got, err)
	}
	if n := len(f.reqs()); n != 1 {
		t.Fatalf("requests %v: cached answers must not hit the registry", f.reqs())
	}
	if id, err := cl.Lookup(ctx, "other", schema); !errors.Is(err, ErrSchemaNotFound) || !strings.Contains(err.Error(), "Subject 'other' not found") {
		t.Fatalf("lookup in missing subject: %d %v", id, err)
	}
	f.subjects["other"] = []int{1}
	if id, err := cl.Lookup(ctx, "other", schema); err != nil || id != 1 {
		t.Fatalf("lookup: %d %v", id, err)
	}
	if id, s, err := cl.Latest(ctx, "other"); err != nil || id != 1 || s != schema {
		t.Fatalf("latest: %d %q %v", id, s, err)
	}
	// A fresh client must fetch by id.
	cl2 := testClient(t, srv.URL, func(c *Config) { c.BasicAuthUserInfo = "sluice:s3cret" })
	if got, err := cl2.SchemaByID(ctx, 1); err != nil || got != schema {
		t.Fatalf("fresh schema by id: %q %v", got, err)
	}
	// Wrong credentials: 401 is not retried.
	before := len(f.reqs())
	bad := testClient(t, srv.URL, func(c *Config) { c.BasicAuthUserInfo = "sluice:nope" })
	if _, err := bad.SchemaByID(ctx, 1); err == nil {
		t.Fatal("bad credentials accepted")
	}
	if got := len(f.reqs()) - before; got != 1 {
		t.Fatalf("401 retried: %d requests", got)
	}
}

func TestClientErrorsAndRetry(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	srv := httptest.NewServer(f)
	defer srv.Close()
	cl := testClient(t, srv.URL, nil)
	schema := `"string"`

	f.fail5xx = 2
	if id, err := cl.Register(ctx, "s", schema); err != nil || id != 1 {
		t.Fatalf("register after two 500s: %d %v", id, err)
	}
	if got := f.reqs(); len(got) != 3 {
		t.Fatalf("requests %v, want 3 (two retries)", got)
	}

	f.fail5xx = 10 // more than the 3 retries
	_, err := cl.SchemaByID(ctx, 99)
	if err == nil || !strings.Contains(err.Error(), "50001") {
		t.Fatalf("persistent 500: %v", err)
	}
	if got := len(f.reqs()); got != 3+4 {
		t.Fatalf("%d requests, want 4 more (1 + 3 retries)", got)
	}
	f.fail5xx = 0

	f.reject = 409
	_, err = cl.Register(ctx, "orders-value", `"int"`)
	if !errors.Is(err, ErrIncompatibleSchema) || !strings.Contains(err.Error(), "subject orders-value") ||
		!strings.Contains(err.Error(), "incompatible with an earlier schema") {
		t.Fatalf("409: %v", err)
	}
	f.reject = 422
	_, err = cl.Register(ctx, "orders-value", `"long"`)
	if !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), "42201") {
		t.Fatalf("422: %v", err)
	}
	n := len(f.reqs())
	if n != 7+2 {
		t.Fatalf("4xx answers were retried: %v", f.reqs())
	}

	// Network errors are retried, then reported.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cl2 := testClient(t, dead.URL, nil)
	if _, err := cl2.SchemaByID(ctx, 1); err == nil {
		t.Fatal("dead registry answered")
	}
}

func TestClientTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clientCert, clientKey := writeSelfSigned(t, dir, "client")
	f := newFake()
	srv := httptest.NewUnstartedServer(f)
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(clientCert)
	pool.AppendCertsFromPEM(pemBytes)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	cl := testClient(t, srv.URL, func(c *Config) { c.CAFile, c.CertFile, c.KeyFile = caFile, clientCert, clientKey })
	if id, err := cl.Register(ctx, "s", `"string"`); err != nil || id != 1 {
		t.Fatalf("TLS register: %d %v", id, err)
	}
	noCert := testClient(t, srv.URL, func(c *Config) { c.CAFile = caFile })
	if _, err := noCert.SchemaByID(ctx, 1); err == nil {
		t.Fatal("server accepted a client without certificate")
	}
	noCA := testClient(t, srv.URL, func(c *Config) { c.CertFile, c.KeyFile = clientCert, clientKey })
	if _, err := noCA.SchemaByID(ctx, 1); err == nil {
		t.Fatal("client trusted an unknown server certificate")
	}
}

func writeSelfSigned(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestConverterOverClient runs the converter over the HTTP client: the
// first Encode registers, later ones and Decode hit no endpoint.
func TestConverterOverClient(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	srv := httptest.NewServer(f)
	defer srv.Close()
	cl := testClient(t, srv.URL, nil)
	conv := mustNew(t, DefaultConfig(), cl)
	s, v := allTypes()
	for range 3 {
		if _, err := conv.Encode(ctx, "srv.public.all", false, v); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := conv.Encode(ctx, "srv.public.all", false, v)
	if got := f.reqs(); len(got) != 1 || got[0] != "POST /subjects/srv.public.all-value/versions" {
		t.Fatalf("requests %v", got)
	}
	dec := mustNew(t, DefaultConfig(), testClient(t, srv.URL, nil))
	gs, _, err := dec.Decode(ctx, data)
	if err != nil || !gs.Equal(s) {
		t.Fatalf("decode: %v %v", gs, err)
	}
	if got := f.reqs(); len(got) != 2 || got[1] != "GET /schemas/ids/1" {
		t.Fatalf("requests %v", got)
	}
	// An incompatible change is reported with the subject and never encoded.
	f.reject = 409
	s2 := event.StructOf("srv.public.all.Value", event.NewField("x", event.String()))
	_, err = conv.Encode(ctx, "srv.public.all", false, event.NewStruct(s2, "x"))
	if !errors.Is(err, ErrIncompatibleSchema) || !strings.Contains(err.Error(), "srv.public.all-value") {
		t.Fatalf("incompatible: %v", err)
	}
}
