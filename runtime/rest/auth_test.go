package rest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

func TestAuth(t *testing.T) {
	h, err := runtime.NewHerder(runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rest.New(h, rest.Config{BasicAuth: map[string]string{"ops": "pw"}, BearerTokens: []string{"tok"}}, nil))
	defer srv.Close()
	tests := []struct {
		name string
		set  func(r *http.Request)
		want int
	}{
		{"none", func(*http.Request) {}, http.StatusUnauthorized},
		{"basic ok", func(r *http.Request) { r.SetBasicAuth("ops", "pw") }, http.StatusOK},
		{"basic wrong password", func(r *http.Request) { r.SetBasicAuth("ops", "no") }, http.StatusUnauthorized},
		{"basic unknown user", func(r *http.Request) { r.SetBasicAuth("x", "pw") }, http.StatusUnauthorized},
		{"bearer ok", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }, http.StatusOK},
		{"bearer wrong", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/connectors", nil)
			tt.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}
