package rest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/runtime"
)

// DefaultAddr is Kafka Connect's REST listener.
const DefaultAddr = ":8083"

// Config configures the API's protection (off when both are empty).
type Config struct {
	// BasicAuth maps user names to passwords.
	BasicAuth map[string]string `json:"basic_auth" yaml:"basic_auth"`
	// BearerTokens are the accepted bearer tokens.
	BearerTokens []string `json:"bearer_tokens" yaml:"bearer_tokens"`
}

// Herder is what the API drives: *runtime.Herder (standalone) and
// *runtime.Worker (distributed) implement it.
type Herder interface {
	Plugins() *runtime.Registry
	Loggers() *runtime.Loggers
	Version() string
	ServerInfo(ctx context.Context) (runtime.ServerInfo, error)
	Validate(plugin string, cfg map[string]string) (runtime.ConfigInfos, error)
	Definitions(p *runtime.Plugin) []runtime.ConfigKey
	Connectors() []string
	CreateConnector(name string, cfg map[string]string) (runtime.ConnectorInfo, error)
	PutConnectorConfig(name string, cfg map[string]string) (runtime.ConnectorInfo, bool, error)
	PatchConnectorConfig(name string, patch map[string]*string) (runtime.ConnectorInfo, error)
	DeleteConnector(name string) error
	ConnectorInfo(name string) (runtime.ConnectorInfo, error)
	ConnectorConfig(name string) (map[string]string, error)
	TaskConfigs(name string) ([]runtime.TaskInfo, error)
	ConnectorStatus(name string) (runtime.ConnectorStatus, error)
	TaskStatus(name string, id int) (runtime.StateInfo, error)
	Pause(name string) error
	Resume(name string) error
	Stop(name string) error
	RestartConnector(name string, req runtime.RestartRequest) (*runtime.ConnectorStatus, error)
	RestartTask(name string, id int) error
	ActiveTopics(name string) []string
	ResetActiveTopics(name string)
	Offsets(ctx context.Context, name string) (runtime.ConnectorOffsets, error)
	AlterOffsets(ctx context.Context, name string, req runtime.ConnectorOffsets) error
	ResetOffsets(ctx context.Context, name string) error
}

var (
	_ Herder = (*runtime.Herder)(nil)
	_ Herder = (*runtime.Worker)(nil)
)

// Server is the REST API of one worker. It implements http.Handler.
type Server struct {
	h   Herder
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API over h.
func New(h Herder, cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{h: h, cfg: cfg, log: log, mux: http.NewServeMux()}
	m := s.mux
	m.HandleFunc("GET /{$}", s.serverInfo)
	m.HandleFunc("GET /connector-plugins", s.plugins)
	m.HandleFunc("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	m.HandleFunc("PUT /connector-plugins/{plugin}/config/validate", s.validate)
	m.HandleFunc("GET /connectors", s.listConnectors)
	m.HandleFunc("POST /connectors", s.createConnector)
	m.HandleFunc("GET /connectors/{name}", s.connectorInfo)
	m.HandleFunc("DELETE /connectors/{name}", s.deleteConnector)
	m.HandleFunc("GET /connectors/{name}/config", s.connectorConfig)
	m.HandleFunc("PUT /connectors/{name}/config", s.putConfig)
	m.HandleFunc("PATCH /connectors/{name}/config", s.patchConfig)
	m.HandleFunc("GET /connectors/{name}/status", s.connectorStatus)
	m.HandleFunc("POST /connectors/{name}/restart", s.restartConnector)
	m.HandleFunc("PUT /connectors/{name}/pause", s.target(s.h.Pause, http.StatusAccepted))
	m.HandleFunc("PUT /connectors/{name}/resume", s.target(s.h.Resume, http.StatusAccepted))
	m.HandleFunc("PUT /connectors/{name}/stop", s.target(s.h.Stop, http.StatusNoContent))
	m.HandleFunc("GET /connectors/{name}/tasks", s.tasks)
	m.HandleFunc("GET /connectors/{name}/tasks/{id}/status", s.taskStatus)
	m.HandleFunc("POST /connectors/{name}/tasks/{id}/restart", s.restartTask)
	m.HandleFunc("GET /connectors/{name}/topics", s.topics)
	m.HandleFunc("PUT /connectors/{name}/topics/reset", s.resetTopics)
	m.HandleFunc("GET /connectors/{name}/offsets", s.offsets)
	m.HandleFunc("PATCH /connectors/{name}/offsets", s.alterOffsets)
	m.HandleFunc("DELETE /connectors/{name}/offsets", s.resetOffsets)
	m.HandleFunc("GET /admin/loggers", s.loggers)
	m.HandleFunc("GET /admin/loggers/{logger}", s.logger)
	m.HandleFunc("PUT /admin/loggers/{logger}", s.setLogger)
	m.HandleFunc("/", s.noRoute)
	return s
}

// ServeHTTP checks the credentials, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="sluice", Bearer`)
		writeError(w, http.StatusUnauthorized, "Unauthorized: valid credentials are required", true)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	if len(s.cfg.BasicAuth) == 0 && len(s.cfg.BearerTokens) == 0 {
		return true
	}
	if user, pass, ok := r.BasicAuth(); ok {
		want, known := s.cfg.BasicAuth[user]
		// Compare even for unknown users so timing does not reveal them.
		eq := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
		return known && eq
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		okTok := false
		for _, t := range s.cfg.BearerTokens {
			if subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 {
				okTok = true
			}
		}
		return okTok
	}
	return false
}

// noRoute answers paths no pattern matches: 405 when another method would
// match, 404 otherwise; as Kafka Connect, a JSON body without Content-Type.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			writeError(w, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed", false)
			return
		}
	}
	writeError(w, http.StatusNotFound, "HTTP 404 Not Found", false)
}

type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string, contentType bool) {
	if contentType {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header()["Content-Type"] = nil // no sniffing either
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{ErrorCode: status, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers a Herder error with Kafka Connect's status for its kind.
func (s *Server) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var e *runtime.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case runtime.KindBadRequest:
			status = http.StatusBadRequest
		case runtime.KindNotFound:
			status = http.StatusNotFound
		case runtime.KindConflict:
			status = http.StatusConflict
		}
	}
	if status == http.StatusInternalServerError {
		s.log.Warn("rest request failed", "err", err)
	}
	writeError(w, status, err.Error(), true)
}

// errUnsupportedMedia is answered 415 without Content-Type, as Kafka Connect.
var errUnsupportedMedia = errors.New("HTTP 415 Unsupported Media Type")

// readJSON decodes the body. As Kafka Connect: a Content-Type other than
// JSON is 415; an empty or malformed body is 500.
func readJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errUnsupportedMedia
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("request body is empty")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON body: %w", err)
	}
	return nil
}

func (s *Server) bodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errUnsupportedMedia) {
		writeError(w, http.StatusUnsupportedMediaType, err.Error(), false)
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error(), true)
}

// stringConfig turns a JSON object into a configuration: strings as is,
// numbers and booleans as their text (tasks.max 1 is "1"); null values are
// left out. As Kafka Connect, whose configurations are string maps, an
// object or array value is an error (answered 500).
func stringConfig(in map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		s, ok, err := configString(k, v)
		if err != nil {
			return nil, err
		}
		if ok {
			out[k] = s
		}
	}
	return out, nil
}

// configString is one configuration value as text; ok is false for null.
func configString(key string, v any) (s string, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case json.Number:
		return v.String(), true, nil
	case bool:
		return strconv.FormatBool(v), true, nil
	case map[string]any:
		return "", false, fmt.Errorf("malformed JSON body: the value of %q is an object, want a string", key)
	default:
		return "", false, fmt.Errorf("malformed JSON body: the value of %q is an array, want a string", key)
	}
}

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.h.ServerInfo(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("connectorsOnly") == "false" {
		writeJSON(w, http.StatusOK, s.h.Plugins().All(s.h.Version()))
		return
	}
	writeJSON(w, http.StatusOK, s.h.Plugins().Connectors())
}

func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("plugin")
	p, ok := s.h.Plugins().Lookup(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown plugin %s.", name), true)
		return
	}
	writeJSON(w, http.StatusOK, s.h.Definitions(p))
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := readJSON(r, &body); err != nil {
		s.bodyError(w, err)
		return
	}
	cfg, err := stringConfig(body)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	infos, err := s.h.Validate(r.PathValue("plugin"), cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, infos)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	names := s.h.Connectors()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, names)
		return
	}
	out := make(map[string]map[string]any, len(names))
	for _, n := range names {
		e := map[string]any{}
		if slices.Contains(expand, "status") {
			if st, err := s.h.ConnectorStatus(n); err == nil {
				e["status"] = st
			}
		}
		if slices.Contains(expand, "info") {
			if info, err := s.h.ConnectorInfo(n); err == nil {
				e["info"] = info
			}
		}
		out[n] = e
	}
	writeJSON(w, http.StatusOK, out)
}

type createRequest struct {
	Name   any            `json:"name"`
	Config map[string]any `json:"config"`
}

func location(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/connectors/" + name
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := readJSON(r, &req); err != nil {
		s.bodyError(w, err)
		return
	}
	if req.Config == nil {
		writeError(w, http.StatusInternalServerError, "connector creation request has no config", true)
		return
	}
	// As Kafka Connect, a number or boolean name is taken as its text.
	name, _, err := configString("name", req.Name)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	cfg, err := stringConfig(req.Config)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	info, err := s.h.CreateConnector(strings.TrimSpace(name), cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Location", location(r, info.Name))
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) connectorInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.h.ConnectorInfo(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request) {
	if err := s.h.DeleteConnector(r.PathValue("name")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) connectorConfig(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.h.ConnectorConfig(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := readJSON(r, &body); err != nil {
		s.bodyError(w, err)
		return
	}
	cfg, err := stringConfig(body)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	name := r.PathValue("name")
	info, created, err := s.h.PutConnectorConfig(name, cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	if created {
		w.Header().Set("Location", location(r, name))
		writeJSON(w, http.StatusCreated, info)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := readJSON(r, &body); err != nil {
		s.bodyError(w, err)
		return
	}
	patch := make(map[string]*string, len(body))
	for k, v := range body {
		sv, ok, err := configString(k, v)
		switch {
		case err != nil:
			s.bodyError(w, err)
			return
		case ok:
			patch[k] = &sv
		default:
			patch[k] = nil
		}
	}
	info, err := s.h.PatchConnectorConfig(r.PathValue("name"), patch)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) connectorStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.h.ConnectorStatus(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) restartConnector(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// As Kafka Connect, anything but "true" is false.
	req := runtime.RestartRequest{IncludeTasks: q.Get("includeTasks") == "true", OnlyFailed: q.Get("onlyFailed") == "true"}
	st, err := s.h.RestartConnector(r.PathValue("name"), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	if st == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

func (s *Server) target(op func(string) error, status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := op(r.PathValue("name")); err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(status)
	}
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	ts, err := s.h.TaskConfigs(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// taskID is the {id} path segment. As Kafka Connect (JAX-RS), one that is
// not an integer matches no resource: 404 "HTTP 404 Not Found", without
// Content-Type, answered here (ok false).
func taskID(w http.ResponseWriter, r *http.Request) (int, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		writeError(w, http.StatusNotFound, "HTTP 404 Not Found", false)
		return 0, false
	}
	return int(id), true
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := taskID(w, r)
	if !ok {
		return
	}
	st, err := s.h.TaskStatus(r.PathValue("name"), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) restartTask(w http.ResponseWriter, r *http.Request) {
	id, ok := taskID(w, r)
	if !ok {
		return
	}
	if err := s.h.RestartTask(r.PathValue("name"), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	writeJSON(w, http.StatusOK, map[string]map[string][]string{name: {"topics": s.h.ActiveTopics(name)}})
}

func (s *Server) resetTopics(w http.ResponseWriter, r *http.Request) {
	s.h.ResetActiveTopics(r.PathValue("name"))
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) offsets(w http.ResponseWriter, r *http.Request) {
	offs, err := s.h.Offsets(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, offs)
}

type message struct {
	Message string `json:"message"`
}

func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request) {
	var req runtime.ConnectorOffsets
	if err := readJSON(r, &req); err != nil {
		s.bodyError(w, err)
		return
	}
	if err := s.h.AlterOffsets(r.Context(), r.PathValue("name"), req); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, message{"The offsets for this connector have been altered successfully"})
}

func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request) {
	if err := s.h.ResetOffsets(r.Context(), r.PathValue("name")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, message{"The offsets for this connector have been reset successfully"})
}

func (s *Server) loggers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.h.Loggers().All())
}

func (s *Server) logger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("logger")
	l, ok := s.h.Loggers().Get(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Logger %s not found.", name), true)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) setLogger(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := readJSON(r, &body); err != nil {
		s.bodyError(w, err)
		return
	}
	level, _ := body["level"].(string)
	if level == "" {
		writeError(w, http.StatusBadRequest, "Desired 'level' parameter was not specified in request.", true)
		return
	}
	if strings.EqualFold(r.URL.Query().Get("scope"), "cluster") {
		// A distributed worker sets it on every worker; a standalone one
		// is the whole cluster. Kafka Connect answers 204.
		var err error
		if c, ok := s.h.(interface {
			SetLoggerCluster(name, level string) error
		}); ok {
			err = c.SetLoggerCluster(r.PathValue("logger"), level)
		} else {
			_, err = s.h.Loggers().Set(r.PathValue("logger"), level)
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	changed, err := s.h.Loggers().Set(r.PathValue("logger"), level)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, changed)
}
