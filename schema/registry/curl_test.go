package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestCurl drives a real listener with Debian's curl and checks exact
// status lines and bodies, including errors.
func TestCurl(t *testing.T) {
	curl := testenv.RequireCommand(t, "curl", "apt-get install curl")
	s, err := New(context.Background(), Config{Storage: StorageFile, File: filepath.Join(t.TempDir(), "s.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler()}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	ct := "Content-Type: application/vnd.schemaregistry.v1+json"
	steps := []struct {
		args []string
		want string // "<status> <body>"
	}{
		{[]string{"-X", "POST", "-H", ct, "--data", `{"schema":"{\"type\":\"string\"}"}`, base + "/subjects/t-value/versions"}, `200 {"id":1}`},
		{[]string{"-X", "POST", "-H", "Content-Type: application/json", "--data", `{"schema":"\"string\""}`, base + "/subjects/t-value/versions"}, `200 {"id":1}`},
		{[]string{base + "/subjects/t-value/versions/-1"}, `200 {"subject":"t-value","version":1,"id":1,"schema":"{\"type\":\"string\"}"}`},
		{[]string{base + "/subjects/t-value/versions"}, `200 [1]`},
		{[]string{base + "/subjects/t-value/versions/abc"}, `422 {"error_code":42202,"message":"The specified version 'abc' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""}`},
		{[]string{"-X", "POST", "-H", ct, "--data", `{"schema":"{\"type\":\"nope\"}"}`, base + "/subjects/t-value/versions"}, `422 `},
		{[]string{"-X", "POST", "-H", ct, "--data", `{"schema":"\"int\""}`, base + "/subjects/t-value"}, `404 {"error_code":40403,"message":"Schema not found"}`},
		{[]string{base + "/subjects/missing/versions"}, `404 {"error_code":40401,"message":"Subject 'missing' not found."}`},
		{[]string{"-X", "DELETE", base + "/subjects/t-value/versions/1?permanent=true"}, `404 {"error_code":40407,"message":"Subject 't-value' Version 1 was not deleted first before being permanently deleted"}`},
		{[]string{"-X", "PUT", "-H", ct, "--data", `{"compatibility":"FULL_TRANSITIVE"}`, base + "/config/t-value"}, `200 {"compatibility":"FULL_TRANSITIVE"}`},
		{[]string{base + "/config/t-value"}, `200 {"compatibilityLevel":"FULL_TRANSITIVE"}`},
		{[]string{base + "/config/other"}, `404 {"error_code":40408,"message":"Subject 'other' does not have subject-level compatibility configured"}`},
		{[]string{base + "/subjects"}, `200 ["t-value"]`},
		{[]string{base + "/subjects/t-value/versions/1/schema"}, `200 {"type":"string"}`},
		{[]string{base + "/schemas/ids/1"}, `200 {"schema":"{\"type\":\"string\"}"}`},
		{[]string{base + "/schemas/ids/1/schema"}, `200 {"type":"string"}`},
		{[]string{base + "/schemas/ids/1/subjects"}, `200 ["t-value"]`},
		{[]string{base + "/schemas/ids/1/versions"}, `200 [{"subject":"t-value","version":1}]`},
		{[]string{base + "/schemas/ids/99"}, `404 {"error_code":40403,"message":"Schema 99 not found"}`},
		{[]string{base + "/schemas/types"}, `200 ["AVRO"]`},
		{[]string{base + "/config"}, `200 {"compatibilityLevel":"BACKWARD"}`},
		{[]string{"-X", "PUT", "-H", ct, "--data", `{"compatibility":"FULL"}`, base + "/config"}, `200 {"compatibility":"FULL"}`},
		{[]string{"-X", "PUT", "-H", ct, "--data", `{"compatibility":"SIDEWAYS"}`, base + "/config"}, `422 {"error_code":42203,"message":"Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}`},
		{[]string{"-X", "DELETE", base + "/config"}, `200 {"compatibilityLevel":"FULL"}`},
		{[]string{"-X", "DELETE", base + "/config/t-value"}, `200 {"compatibilityLevel":"FULL_TRANSITIVE"}`},
		{[]string{"-X", "POST", "-H", ct, "--data", `{"schema":"\"string\""}`, base + "/compatibility/subjects/t-value/versions/latest"}, `200 {"is_compatible":true}`},
		{[]string{base + "/mode"}, `200 {"mode":"READWRITE"}`},
		{[]string{"-X", "DELETE", base + "/subjects/t-value"}, `200 [1]`},
		{[]string{base + "/subjects/t-value/versions"}, `404 {"error_code":40401,"message":"Subject 't-value' not found."}`},
		{[]string{"-X", "DELETE", base + "/subjects/t-value?permanent=true"}, `200 [1]`},
		{[]string{base + "/subjects"}, `200 []`},
	}
	for _, st := range steps {
		args := append([]string{"-s", "-w", "\n%{http_code}"}, st.args...)
		out, err := exec.Command(curl, args...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", st.args, err)
		}
		body, code := splitLast(string(out))
		got := code + " " + body
		if st.want == "422 " {
			// Parser messages are hamba/avro's; pin the code only.
			if code != "422" || !strings.Contains(body, `"error_code":42201`) {
				t.Errorf("curl %v: got %s", st.args, got)
			}
			continue
		}
		if got != st.want {
			t.Errorf("curl %v:\n got %s\nwant %s", st.args, got, st.want)
		}
	}
}

func splitLast(s string) (body, code string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}
