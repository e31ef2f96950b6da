package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// contentType is Confluent's response media type.
const contentType = "application/vnd.schemaregistry.v1+json"

// Handler serves Confluent Schema Registry's REST API (7.x paths, JSON
// shapes and error codes; see doc.go).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request) (any, *apiError)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
			defer cancel()
			if err := s.wait(ctx); err != nil {
				s.reply(w, r, nil, errTimeout("Schema registry is not ready: the store has not caught up"))
				return
			}
			v, aerr := f(w, r.WithContext(ctx))
			s.reply(w, r, v, aerr)
		})
	}
	h("GET /{$}", func(w http.ResponseWriter, r *http.Request) (any, *apiError) { return struct{}{}, nil })
	h("GET /subjects", s.getSubjects)
	h("GET /subjects/{subject}/versions", s.getVersions)
	h("POST /subjects/{subject}/versions", s.postVersion)
	h("GET /subjects/{subject}/versions/{version}", s.getVersion)
	h("GET /subjects/{subject}/versions/{version}/schema", s.getVersionSchema)
	h("DELETE /subjects/{subject}/versions/{version}", s.deleteVersionHTTP)
	h("POST /subjects/{subject}", s.postLookup)
	h("DELETE /subjects/{subject}", s.deleteSubjectHTTP)
	h("GET /schemas/ids/{id}", s.getSchemaByID)
	h("GET /schemas/ids/{id}/schema", s.getSchemaByIDRaw)
	h("GET /schemas/ids/{id}/subjects", s.getSchemaSubjects)
	h("GET /schemas/ids/{id}/versions", s.getSchemaVersions)
	h("GET /schemas/types", func(w http.ResponseWriter, r *http.Request) (any, *apiError) { return []string{"AVRO"}, nil })
	h("GET /config", s.getConfig)
	h("PUT /config", s.putConfig)
	h("DELETE /config", s.deleteConfig)
	h("GET /config/{subject}", s.getConfig)
	h("PUT /config/{subject}", s.putConfig)
	h("DELETE /config/{subject}", s.deleteConfig)
	h("POST /compatibility/subjects/{subject}/versions/{version}", s.postCompatibility)
	h("POST /compatibility/subjects/{subject}/versions", s.postCompatibility)
	h("GET /mode", s.getMode)
	h("GET /mode/{subject}", s.getMode)
	return s.fallback(mux)
}

// fallback turns the mux's plain-text 404/405 into Jersey's JSON errors.
func (s *Server) fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			s.reply(w, r, nil, &apiError{http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed"})
			return
		}
		s.reply(w, r, nil, &apiError{http.StatusNotFound, http.StatusNotFound, "HTTP 404 Not Found"})
	})
}

type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

// errorBody is Confluent's ErrorMessage.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// rawSchema marks a reply that is a schema's own JSON text.
type rawSchema string

func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, aerr *apiError) {
	status := http.StatusOK
	var body []byte
	switch {
	case aerr != nil:
		status = aerr.status
		body = marshal(errorBody{ErrorCode: aerr.code, Message: aerr.msg})
	default:
		if raw, ok := v.(rawSchema); ok {
			body = []byte(raw)
		} else {
			body = marshal(v)
		}
	}
	if s.requests != nil {
		s.requests.WithLabelValues(r.Method, strconv.Itoa(status)).Inc()
	}
	if aerr != nil && aerr.status >= 500 {
		s.opts.log.Warn("schema registry request failed", "method", r.Method, "path", r.URL.Path, "code", aerr.code, "err", aerr.msg)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// boolParam reads a query flag as JAX-RS does: "true" (any case) is true.
func boolParam(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}

// registerRequest is RegisterSchemaRequest (the fields this registry uses).
type registerRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
}

func readRequest(r *http.Request) (registerRequest, *apiError) {
	var req registerRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	if err := dec.Decode(&req); err != nil {
		return req, &apiError{http.StatusBadRequest, http.StatusBadRequest, "Unrecognized request body: " + err.Error()}
	}
	if req.SchemaType != "" && !strings.EqualFold(req.SchemaType, "AVRO") {
		return req, errInvalidSchema("Invalid schema type " + req.SchemaType + ": this registry serves AVRO only")
	}
	if len(req.References) > 0 {
		return req, errInvalidSchema("Schema references are not supported by this registry")
	}
	return req, nil
}

func (s *Server) getSubjects(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	prefix := r.URL.Query().Get("subjectPrefix")
	out := []string{}
	for _, name := range s.st.subjectNames(boolParam(r, "deleted")) {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, nil
}

func (s *Server) getVersions(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	subject := r.PathValue("subject")
	s.mu.RLock()
	defer s.mu.RUnlock()
	vs := s.st.versions(subject, boolParam(r, "deleted"))
	if len(vs) == 0 {
		return nil, errSubjectNotFound(subject)
	}
	return vs, nil
}

func (s *Server) postVersion(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	req, aerr := readRequest(r)
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := s.register(r.Context(), r.PathValue("subject"), req.Schema)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		ID int `json:"id"`
	}{id}, nil
}

func (s *Server) versionEntity(r *http.Request) (subjectVersion, *apiError) {
	subject := r.PathValue("subject")
	v, aerr := parseVersion(r.PathValue("version"))
	if aerr != nil {
		return subjectVersion{}, aerr
	}
	deleted := boolParam(r, "deleted")
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.st.resolve(subject, v, deleted)
	if n == 0 {
		if !s.st.hasSubject(subject, deleted) {
			return subjectVersion{}, errSubjectNotFound(subject)
		}
		return subjectVersion{}, errVersionNotFound(v.n)
	}
	return s.st.entity(subject, n), nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	e, aerr := s.versionEntity(r)
	if aerr != nil {
		return nil, aerr
	}
	return e, nil
}

func (s *Server) getVersionSchema(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	e, aerr := s.versionEntity(r)
	if aerr != nil {
		return nil, aerr
	}
	return rawSchema(e.Schema), nil
}

func (s *Server) deleteVersionHTTP(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	v, aerr := parseVersion(r.PathValue("version"))
	if aerr != nil {
		return nil, aerr
	}
	n, aerr := s.deleteVersion(r.Context(), r.PathValue("subject"), v, boolParam(r, "permanent"))
	if aerr != nil {
		return nil, aerr
	}
	return n, nil
}

func (s *Server) postLookup(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	req, aerr := readRequest(r)
	if aerr != nil {
		return nil, aerr
	}
	e, aerr := s.lookup(r.PathValue("subject"), req.Schema, boolParam(r, "deleted"))
	if aerr != nil {
		return nil, aerr
	}
	return e, nil
}

func (s *Server) deleteSubjectHTTP(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	vs, aerr := s.deleteSubject(r.Context(), r.PathValue("subject"), boolParam(r, "permanent"))
	if aerr != nil {
		return nil, aerr
	}
	return vs, nil
}

// schemaID parses {id}; like Jersey, a non-integer id is an unmatched path.
func schemaID(r *http.Request) (int, *apiError) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		return 0, &apiError{http.StatusNotFound, http.StatusNotFound, "HTTP 404 Not Found"}
	}
	return int(id), nil
}

func (s *Server) schemaText(r *http.Request) (string, *apiError) {
	id, aerr := schemaID(r)
	if aerr != nil {
		return "", aerr
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.st.ids[id]
	if e == nil {
		return "", errSchemaIDNotFound(id)
	}
	return e.text, nil
}

func (s *Server) getSchemaByID(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	text, aerr := s.schemaText(r)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Schema string `json:"schema"`
	}{text}, nil
}

func (s *Server) getSchemaByIDRaw(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	text, aerr := s.schemaText(r)
	if aerr != nil {
		return nil, aerr
	}
	return rawSchema(text), nil
}

// subjectVersionRef is SubjectVersion.
type subjectVersionRef struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (s *Server) idVersions(r *http.Request) ([]subjectVersionRef, *apiError) {
	id, aerr := schemaID(r)
	if aerr != nil {
		return nil, aerr
	}
	deleted := boolParam(r, "deleted")
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []subjectVersionRef
	for _, subject := range s.st.subjectNames(true) {
		for _, n := range s.st.versions(subject, deleted) {
			if s.st.subjects[subject][n].id == id {
				out = append(out, subjectVersionRef{subject, n})
			}
		}
	}
	if len(out) == 0 {
		return nil, errSchemaNotFound()
	}
	return out, nil
}

func (s *Server) getSchemaSubjects(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	vs, aerr := s.idVersions(r)
	if aerr != nil {
		return nil, aerr
	}
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Subject) {
			out = append(out, v.Subject)
		}
	}
	return out, nil
}

func (s *Server) getSchemaVersions(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	vs, aerr := s.idVersions(r)
	if aerr != nil {
		return nil, aerr
	}
	return vs, nil
}

// configBody is Config as GET returns it.
type configBody struct {
	CompatibilityLevel Level `json:"compatibilityLevel"`
}

// configUpdate is ConfigUpdateRequest.
type configUpdate struct {
	Compatibility string `json:"compatibility"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	subject := r.PathValue("subject")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if subject == "" {
		return configBody{s.st.level("")}, nil
	}
	if l, ok := s.st.levels[subject]; ok {
		return configBody{l}, nil
	}
	if boolParam(r, "defaultToGlobal") {
		return configBody{s.st.level(subject)}, nil
	}
	return nil, errSubjectLevelNotConfigured(subject)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	var req configUpdate
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&req); err != nil {
		return nil, &apiError{http.StatusBadRequest, http.StatusBadRequest, "Unrecognized request body: " + err.Error()}
	}
	l, ok := ParseLevel(req.Compatibility)
	if !ok {
		return nil, errInvalidCompatibility()
	}
	if aerr := s.setLevel(r.Context(), r.PathValue("subject"), l); aerr != nil {
		return nil, aerr
	}
	return configUpdate{string(l)}, nil
}

func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	subject := r.PathValue("subject")
	s.mu.RLock()
	old, ok := s.st.levels[subject]
	if subject == "" {
		old, ok = s.st.level(""), true
	}
	s.mu.RUnlock()
	if !ok {
		return nil, errSubjectNotFound(subject)
	}
	if aerr := s.setLevel(r.Context(), subject, ""); aerr != nil {
		return nil, aerr
	}
	return configBody{old}, nil
}

// compatibilityResponse is CompatibilityCheckResponse.
type compatibilityResponse struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages,omitzero"`
}

func (s *Server) postCompatibility(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	var v *versionArg
	if raw := r.PathValue("version"); raw != "" {
		parsed, aerr := parseVersion(raw)
		if aerr != nil {
			return nil, aerr
		}
		v = &parsed
	}
	req, aerr := readRequest(r)
	if aerr != nil {
		return nil, aerr
	}
	msgs, aerr := s.checkCompatibility(r.PathValue("subject"), v, req.Schema)
	if aerr != nil {
		return nil, aerr
	}
	resp := compatibilityResponse{IsCompatible: len(msgs) == 0}
	if boolParam(r, "verbose") {
		resp.Messages = msgs
		if resp.Messages == nil {
			resp.Messages = []string{}
		}
	}
	return resp, nil
}

func (s *Server) getMode(w http.ResponseWriter, r *http.Request) (any, *apiError) {
	return struct {
		Mode string `json:"mode"`
	}{"READWRITE"}, nil
}
