package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

const (
	userV1 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"int"}]}`
	// userV2 adds an optional field: BACKWARD compatible.
	userV2 = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"int"},{"name":"email","type":["null","string"],"default":null}]}`
	// userBad adds a required field: not BACKWARD compatible.
	userBad = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"int"},{"name":"age","type":"int"}]}`
)

// newFileServer starts a registry over a fresh file store behind httptest.
func newFileServer(t *testing.T, file string) (*Server, *httptest.Server) {
	t.Helper()
	if file == "" {
		file = filepath.Join(t.TempDir(), "schemas.jsonl")
	}
	s, err := New(context.Background(), Config{Storage: StorageFile, File: file})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, hs
}

func srClient(t *testing.T, url string) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// wantCode asserts err is a registry error with the given status and code.
func wantCode(t *testing.T, what string, err error, status, code int) {
	t.Helper()
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: got %v, want registry error %d", what, err, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("%s: got %d/%d (%s), want %d/%d", what, re.StatusCode, re.ErrorCode, re.Message, status, code)
	}
}

func TestAPIWithFranzClient(t *testing.T) {
	_, hs := newFileServer(t, "")
	cl := srClient(t, hs.URL)
	ctx := context.Background()

	// Register, re-register, same schema in another subject.
	a1, err := cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	if a1.ID != 1 || a1.Version != 1 || a1.Subject != "a-value" || a1.Schema.Schema != userV1 {
		t.Fatalf("first registration: %+v", a1)
	}
	spaced := strings.ReplaceAll(userV1, ",", " ,\n ")
	again, err := cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: spaced})
	if err != nil || again.ID != 1 || again.Version != 1 {
		t.Fatalf("re-registration: %+v %v", again, err)
	}
	b1, err := cl.CreateSchema(ctx, "b-value", sr.Schema{Schema: userV1})
	if err != nil || b1.ID != 1 || b1.Version != 1 {
		t.Fatalf("same schema, other subject: %+v %v", b1, err)
	}
	a2, err := cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: userV2})
	if err != nil || a2.ID != 2 || a2.Version != 2 {
		t.Fatalf("evolution: %+v %v", a2, err)
	}
	_, err = cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: userBad})
	wantCode(t, "incompatible", err, 409, 409)
	if !strings.Contains(err.Error(), "READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Fatalf("incompatible message lacks the reason: %v", err)
	}
	_, err = cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: `{"type":"record"}`})
	wantCode(t, "invalid schema", err, 422, 42201)
	_, err = cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: `syntax="proto3";`, Type: sr.TypeProtobuf})
	wantCode(t, "protobuf", err, 422, 42201)

	// Reads.
	subjects, err := cl.Subjects(ctx)
	if err != nil || !slices.Equal(subjects, []string{"a-value", "b-value"}) {
		t.Fatalf("subjects: %v %v", subjects, err)
	}
	vs, err := cl.SubjectVersions(ctx, "a-value")
	if err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions: %v %v", vs, err)
	}
	latest, err := cl.SchemaByVersion(ctx, "a-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != 2 || latest.Schema.Schema != userV2 {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	text, err := cl.SchemaTextByVersion(ctx, "a-value", 1)
	if err != nil || text != userV1 {
		t.Fatalf("version text: %q %v", text, err)
	}
	byID, err := cl.SchemaByID(ctx, 2)
	if err != nil || byID.Schema != userV2 {
		t.Fatalf("by id: %+v %v", byID, err)
	}
	idText, err := cl.SchemaTextByID(ctx, 1)
	if err != nil || idText != userV1 {
		t.Fatalf("by id text: %q %v", idText, err)
	}
	subs, err := cl.SubjectsByID(ctx, 1)
	if err != nil || !slices.Equal(subs, []string{"a-value", "b-value"}) {
		t.Fatalf("subjects by id: %v %v", subs, err)
	}
	svs, err := cl.SchemaVersionsByID(ctx, 1)
	if err != nil || !slices.Equal(svs, []sr.SubjectVersion{{Subject: "a-value", Version: 1}, {Subject: "b-value", Version: 1}}) {
		t.Fatalf("versions by id: %v %v", svs, err)
	}
	found, err := cl.LookupSchema(ctx, "a-value", sr.Schema{Schema: userV2})
	if err != nil || found.Version != 2 || found.ID != 2 {
		t.Fatalf("lookup: %+v %v", found, err)
	}
	_, err = cl.LookupSchema(ctx, "b-value", sr.Schema{Schema: userV2})
	wantCode(t, "lookup missing schema", err, 404, 40403)
	_, err = cl.LookupSchema(ctx, "nope", sr.Schema{Schema: userV2})
	wantCode(t, "lookup missing subject", err, 404, 40401)
	_, err = cl.SchemaByVersion(ctx, "nope", 1)
	wantCode(t, "missing subject", err, 404, 40401)
	_, err = cl.SchemaByVersion(ctx, "a-value", 9)
	wantCode(t, "missing version", err, 404, 40402)
	_, err = cl.SchemaByID(ctx, 99)
	wantCode(t, "missing id", err, 404, 40403)
	_, err = cl.SubjectsByID(ctx, 99)
	wantCode(t, "missing id subjects", err, 404, 40403)
	_, err = cl.SubjectVersions(ctx, "nope")
	wantCode(t, "versions of missing subject", err, 404, 40401)
	types, err := cl.SupportedTypes(ctx)
	if err != nil || !slices.Equal(types, []sr.SchemaType{sr.TypeAvro}) {
		t.Fatalf("types: %v %v", types, err)
	}

	// Compatibility config and checks.
	got := cl.Compatibility(ctx)
	if got[0].Err != nil || got[0].Level != sr.CompatBackward {
		t.Fatalf("global level: %+v", got[0])
	}
	got = cl.Compatibility(ctx, "a-value")
	wantCode(t, "subject level unset", got[0].Err, 404, 40408)
	set := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForward}, "a-value")
	if set[0].Err != nil || set[0].Level != sr.CompatForward {
		t.Fatalf("set level: %+v", set[0])
	}
	got = cl.Compatibility(ctx, "a-value")
	if got[0].Err != nil || got[0].Level != sr.CompatForward {
		t.Fatalf("subject level: %+v", got[0])
	}
	// Under FORWARD, v2 (old) must read the new schema: dropping email is fine.
	chk, err := cl.CheckCompatibility(ctx, "a-value", -1, sr.Schema{Schema: userBad})
	if err != nil || !chk.Is {
		t.Fatalf("forward check: %+v %v", chk, err)
	}
	// Confluent answers DELETE /config/{s} with the old Config
	// ({"compatibilityLevel":...}, pinned in TestExactBodies); franz-go
	// decodes "compatibility", so only the error is checked here.
	if reset := cl.ResetCompatibility(ctx, "a-value"); reset[0].Err != nil {
		t.Fatalf("reset: %v", reset[0].Err)
	}
	got = cl.Compatibility(ctx, "a-value")
	wantCode(t, "subject level after reset", got[0].Err, 404, 40408)
	chk, err = cl.CheckCompatibility(ctx, "a-value", 2, sr.Schema{Schema: userBad})
	if err != nil || chk.Is {
		t.Fatalf("backward check after reset: %+v %v", chk, err)
	}
	_, err = cl.CheckCompatibility(ctx, "a-value", 7, sr.Schema{Schema: userBad})
	wantCode(t, "check missing version", err, 404, 40402)
	modes := cl.Mode(ctx)
	if modes[0].Err != nil || modes[0].Mode != sr.ModeReadWrite {
		t.Fatalf("mode: %+v", modes[0])
	}

	// Deletes.
	err = cl.DeleteSchema(ctx, "a-value", 2, sr.HardDelete)
	wantCode(t, "hard delete before soft", err, 404, 40407)
	if err := cl.DeleteSchema(ctx, "a-value", 2, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	err = cl.DeleteSchema(ctx, "a-value", 2, sr.SoftDelete)
	wantCode(t, "soft delete twice", err, 404, 40406)
	vs, _ = cl.SubjectVersions(ctx, "a-value")
	if !slices.Equal(vs, []int{1}) {
		t.Fatalf("versions after soft delete: %v", vs)
	}
	vs, _ = cl.SubjectVersions(sr.WithParams(ctx, sr.ShowDeleted), "a-value")
	if !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions incl. deleted: %v", vs)
	}
	if err := cl.DeleteSchema(ctx, "a-value", 2, sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	_, err = cl.DeleteSubject(ctx, "b-value", sr.HardDelete)
	wantCode(t, "hard delete subject before soft", err, 404, 40405)
	deleted, err := cl.DeleteSubject(ctx, "b-value", sr.SoftDelete)
	if err != nil || !slices.Equal(deleted, []int{1}) {
		t.Fatalf("soft delete subject: %v %v", deleted, err)
	}
	_, err = cl.DeleteSubject(ctx, "b-value", sr.SoftDelete)
	wantCode(t, "soft delete subject twice", err, 404, 40404)
	subjects, _ = cl.Subjects(ctx)
	if !slices.Equal(subjects, []string{"a-value"}) {
		t.Fatalf("subjects after delete: %v", subjects)
	}
	deleted, err = cl.DeleteSubject(ctx, "b-value", sr.HardDelete)
	if err != nil || !slices.Equal(deleted, []int{1}) {
		t.Fatalf("hard delete subject: %v %v", deleted, err)
	}
	_, err = cl.DeleteSubject(ctx, "b-value", sr.SoftDelete)
	wantCode(t, "delete gone subject", err, 404, 40401)

	// Ids are never reused: userV2 was permanently deleted (id 2 gone);
	// a new schema gets id 3, and userV2 itself comes back with a new id.
	c1, err := cl.CreateSchema(ctx, "c-value", sr.Schema{Schema: `"string"`})
	if err != nil || c1.ID != 3 {
		t.Fatalf("new id after permanent delete: %+v %v", c1, err)
	}
	a3, err := cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: userV2})
	// Version 2 was permanently deleted, so the number is free again (as in
	// Confluent, which numbers after the highest version still stored).
	if err != nil || a3.ID != 4 || a3.Version != 2 {
		t.Fatalf("re-register deleted schema: %+v %v", a3, err)
	}
	// Soft delete then re-register the same schema: same id, new version.
	if err := cl.DeleteSchema(ctx, "a-value", 2, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	a4, err := cl.CreateSchema(ctx, "a-value", sr.Schema{Schema: userV2})
	if err != nil || a4.ID != 4 || a4.Version != 3 {
		t.Fatalf("re-register soft-deleted schema: %+v %v", a4, err)
	}
}

// TestExactBodies pins response bytes for shapes clients parse.
func TestExactBodies(t *testing.T) {
	_, hs := newFileServer(t, "")
	type step struct {
		method, path, body string
		status             int
		want               string
	}
	schemaBody := `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}`
	steps := []step{
		{"GET", "/", "", 200, `{}`},
		{"GET", "/subjects", "", 200, `[]`},
		{"POST", "/subjects/s/versions", schemaBody, 200, `{"id":1}`},
		{"GET", "/subjects/s/versions/latest", "", 200, `{"subject":"s","version":1,"id":1,"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}`},
		{"GET", "/subjects/s/versions/1/schema", "", 200, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`},
		{"GET", "/schemas/ids/1", "", 200, `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}`},
		{"GET", "/schemas/ids/1/versions", "", 200, `[{"subject":"s","version":1}]`},
		{"GET", "/schemas/ids/1/subjects", "", 200, `["s"]`},
		{"GET", "/schemas/types", "", 200, `["AVRO"]`},
		{"GET", "/config", "", 200, `{"compatibilityLevel":"BACKWARD"}`},
		{"PUT", "/config", `{"compatibility":"full"}`, 200, `{"compatibility":"FULL"}`},
		{"PUT", "/config", `{"compatibility":"sideways"}`, 422, `{"error_code":42203,"message":"Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}`},
		{"GET", "/config", "", 200, `{"compatibilityLevel":"FULL"}`},
		{"GET", "/config/s?defaultToGlobal=true", "", 200, `{"compatibilityLevel":"FULL"}`},
		{"DELETE", "/config", "", 200, `{"compatibilityLevel":"FULL"}`},
		{"DELETE", "/config/s", "", 404, `{"error_code":40401,"message":"Subject 's' not found."}`},
		{"GET", "/mode", "", 200, `{"mode":"READWRITE"}`},
		{"POST", "/compatibility/subjects/s/versions/latest?verbose=true", schemaBody, 200, `{"is_compatible":true,"messages":[]}`},
		{"POST", "/compatibility/subjects/s/versions/latest", `{"schema":"\"int\""}`, 200, `{"is_compatible":false}`},
		{"GET", "/subjects/s/versions/0", "", 422, `{"error_code":42202,"message":"The specified version '0' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""}`},
		{"GET", "/subjects/s/versions/2", "", 404, `{"error_code":40402,"message":"Version 2 not found."}`},
		{"GET", "/subjects/x/versions/1", "", 404, `{"error_code":40401,"message":"Subject 'x' not found."}`},
		{"GET", "/schemas/ids/7", "", 404, `{"error_code":40403,"message":"Schema 7 not found"}`},
		{"GET", "/schemas/ids/x", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{"GET", "/nothing/here", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{"PATCH", "/subjects", "", 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},
		{"POST", "/subjects/s/versions", `{"schema":"\"int\""}`, 409, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"s\", details: [{errorType:'TYPE_MISMATCH', description:'The type (path '/') of a field in the new schema does not match with the old schema', additionalInfo:'reader type: INT not compatible with writer type: RECORD'}, {oldSchemaVersion: 1}, {oldSchema: '{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}'}, {validateFields: 'false', compatibility: 'BACKWARD'}]"}`},
		{"DELETE", "/subjects/s?permanent=true", "", 404, `{"error_code":40405,"message":"Subject 's' was not deleted first before being permanently deleted"}`},
		{"DELETE", "/subjects/s/versions/latest", "", 200, `1`},
		{"DELETE", "/subjects/s", "", 404, `{"error_code":40404,"message":"Subject 's' was soft deleted.Set permanent=true to delete permanently"}`},
		{"GET", "/subjects?deleted=true", "", 200, `["s"]`},
		{"DELETE", "/subjects/s?permanent=true", "", 200, `[1]`},
		{"GET", "/subjects?deleted=true", "", 200, `[]`},
	}
	for _, st := range steps {
		req, err := http.NewRequest(st.method, hs.URL+st.path, strings.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != st.status || string(body) != st.want {
			t.Errorf("%s %s:\n got %d %s\nwant %d %s", st.method, st.path, resp.StatusCode, body, st.status, st.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != contentType {
			t.Errorf("%s %s: content type %q", st.method, st.path, ct)
		}
	}
}

func TestFileStoreRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "schemas.jsonl")
	ctx := context.Background()
	_, hs := newFileServer(t, file)
	cl := srClient(t, hs.URL)
	for _, s := range []string{userV1, userV2} {
		if _, err := cl.CreateSchema(ctx, "u", sr.Schema{Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.CreateSchema(ctx, "other", sr.Schema{Schema: `"long"`}); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteSchema(ctx, "u", 1, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "u")

	_, hs2 := newFileServer(t, file)
	cl2 := srClient(t, hs2.URL)
	all, err := cl2.Schemas(sr.WithParams(ctx, sr.ShowDeleted), "u")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != 1 || all[1].ID != 2 || all[1].Version != 2 {
		t.Fatalf("after restart: %+v", all)
	}
	vs, _ := cl2.SubjectVersions(ctx, "u")
	if !slices.Equal(vs, []int{2}) {
		t.Fatalf("soft delete lost on restart: %v", vs)
	}
	if got := cl2.Compatibility(ctx, "u"); got[0].Level != sr.CompatNone {
		t.Fatalf("level lost on restart: %+v", got[0])
	}
	next, err := cl2.CreateSchema(ctx, "new", sr.Schema{Schema: `"bytes"`})
	if err != nil || next.ID != 4 {
		t.Fatalf("next id after restart: %+v %v", next, err)
	}
}
