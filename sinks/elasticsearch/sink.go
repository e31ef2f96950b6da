package elasticsearch

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Option configures New.
type Option func(*options)

type options struct {
	log       *slog.Logger
	transport http.RoundTripper
}

// WithLogger sets the sink's logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTransport sets the HTTP transport (TLS settings, a test's recorder).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// Engine is what GET / says about the cluster.
type Engine struct {
	Distribution string // "opensearch" or "elasticsearch"
	Version      string
	Major        int
}

// Sink writes records to Elasticsearch or OpenSearch with the Bulk API.
// Put converts and buffers; Flush sends the buffer and returns once every
// action is written, superseded or refused. It is not safe for concurrent
// use (the task calls it from one goroutine).
type Sink struct {
	cfg     Config
	log     *slog.Logger
	client  *opensearch.Client
	build   *builder
	engine  Engine
	seed    maphash.Seed
	pending []action
	refused []*sink.RecordError // per-item refusals of the last flush, returned one per Flush
	ready   map[string]bool     // indices known to exist (schema.ignore=false)
}

// New parses cfg, connects and reads the engine's version (GET /), retrying
// on connection errors and 429/502/503/504 until ctx ends. It starts no
// goroutine of its own.
func New(ctx context.Context, cfg map[string]string, opts ...Option) (*Sink, error) {
	c, err := ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	return NewWithConfig(ctx, c, opts...)
}

// NewWithConfig is New for a parsed configuration.
func NewWithConfig(ctx context.Context, c Config, opts ...Option) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	b, err := newBuilder(c)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: %w", err)
	}
	if o.transport == nil {
		// Enough idle connections for every lane (net/http keeps 2 per
		// host by default).
		o.transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2 * c.MaxInFlight,
			MaxIdleConnsPerHost:   2 * c.MaxInFlight,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	client, err := opensearch.NewClient(opensearch.Config{
		Addresses: c.URLs,
		Username:  c.Username,
		Password:  c.Password,
		Transport: o.transport,
		// The sink retries itself, request by request and item by item.
		DisableRetry:          true,
		HealthCheckMaxRetries: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: client for %v: %w", c.URLs, err)
	}
	s := &Sink{cfg: c, log: o.log, client: client, build: b, seed: maphash.MakeSeed(), ready: map[string]bool{}}
	// The node may still be starting (a compose file starting both): wait
	// for it while ctx lasts.
	for attempt := 1; ; attempt++ {
		if s.engine, err = s.info(ctx); err == nil || !isRetriable(err) || ctx.Err() != nil {
			break
		}
		s.log.Debug("elasticsearch not reachable yet", "urls", c.URLs, "err", err)
		if sleep(ctx, min(backoff(200*time.Millisecond, attempt), 5*time.Second)) != nil {
			break
		}
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("elasticsearch sink: %w", err)
	}
	s.log.Info("elasticsearch sink connected", "distribution", s.engine.Distribution, "version", s.engine.Version)
	return s, nil
}

// Engine returns the distribution and version of the cluster.
func (s *Sink) Engine() Engine { return s.engine }

// info reads GET / and refuses Elasticsearch before 7.
func (s *Sink) info(ctx context.Context) (Engine, error) {
	body, err := s.do(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return Engine{}, err
	}
	var r struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Engine{}, fmt.Errorf("GET /: %w", err)
	}
	e := Engine{Distribution: r.Version.Distribution, Version: r.Version.Number}
	if e.Distribution == "" {
		e.Distribution = "elasticsearch"
	}
	major, _, _ := strings.Cut(e.Version, ".")
	e.Major, _ = strconv.Atoi(major)
	if e.Distribution == "elasticsearch" && e.Major < 7 {
		return e, fmt.Errorf("GET /: Elasticsearch %s is not supported (7 or later, or OpenSearch)", e.Version)
	}
	return e, nil
}

// Close releases the client. Buffered actions not flushed are dropped (their
// offsets were not committed).
func (s *Sink) Close() error {
	s.pending = nil
	return s.client.Close()
}

// Buffered returns the number of actions waiting for Flush.
func (s *Sink) Buffered() int { return len(s.pending) }

// Put converts recs to bulk actions and buffers them. A record no action
// can be built for is returned as a *sink.RecordError (unless
// drop.invalid.message drops it) and nothing of this Put is buffered.
func (s *Sink) Put(_ context.Context, recs []sink.Record) error {
	acts := make([]action, 0, len(recs))
	for _, r := range recs {
		a, skip, err := s.build.build(r)
		if err != nil {
			if s.cfg.DropInvalidMessage && errors.Is(err, ErrInvalidRecord) {
				s.log.Warn("dropping invalid record", "topic", r.OriginalTopic, "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			return &sink.RecordError{Record: r, Err: err}
		}
		if !skip {
			acts = append(acts, a)
		}
	}
	s.pending = append(s.pending, acts...)
	return nil
}

// Flush sends every buffered action and waits for the outcome of each.
// Documents the engine refuses as malformed come back one per call as
// *sink.RecordError (behavior.on.malformed.documents=fail) once everything
// else is written. Any other failure leaves the buffer as it was, so a
// later Flush sends it all again (which the versioning makes harmless).
func (s *Sink) Flush(ctx context.Context) error {
	if len(s.refused) > 0 {
		re := s.refused[0]
		s.refused = s.refused[1:]
		return re
	}
	if len(s.pending) == 0 {
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, s.cfg.FlushTimeout)
	defer cancel()
	refused, err := s.flush(fctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
			return retriableError{fmt.Errorf("elasticsearch sink: flush of %d actions timed out after %v (flush.timeout.ms): %w", len(s.pending), s.cfg.FlushTimeout, err)}
		}
		return fmt.Errorf("elasticsearch sink: %w", err)
	}
	s.pending = s.pending[:0]
	slices.SortFunc(refused, func(a, b *sink.RecordError) int {
		return cmp.Or(strings.Compare(a.Record.OriginalTopic, b.Record.OriginalTopic),
			cmp.Compare(a.Record.Partition, b.Record.Partition), cmp.Compare(a.Record.Offset, b.Record.Offset))
	})
	s.refused = refused
	if len(s.refused) > 0 {
		re := s.refused[0]
		s.refused = s.refused[1:]
		return re
	}
	return nil
}

// flush sends the pending actions in up to max.in.flight.requests lanes.
// An id always goes to the same lane, a lane sends its requests one after
// another and no request holds an id twice, so the writes of one document
// reach the engine in record order, retries included.
func (s *Sink) flush(ctx context.Context) ([]*sink.RecordError, error) {
	if !s.cfg.SchemaIgnore {
		if err := s.ensureIndices(ctx); err != nil {
			return nil, err
		}
	}
	lanes := make([][]action, s.cfg.MaxInFlight)
	for _, a := range s.pending {
		i := 0
		if len(lanes) > 1 {
			i = int(maphash.String(s.seed, a.index+"\x00"+a.id) % uint64(len(lanes)))
		}
		lanes[i] = append(lanes[i], a)
	}
	refused := make([][]*sink.RecordError, len(lanes))
	g, gctx := errgroup.WithContext(ctx)
	for i, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		g.Go(func() error {
			var err error
			refused[i], err = s.runLane(gctx, lane)
			return err
		})
	}
	err := g.Wait()
	return slices.Concat(refused...), err
}

// runLane sends a lane's actions in requests bounded by batch.size actions
// and bulk.size.bytes bytes.
func (s *Sink) runLane(ctx context.Context, acts []action) ([]*sink.RecordError, error) {
	var refused []*sink.RecordError
	for len(acts) > 0 {
		n, size := 0, 0
		ids := map[string]bool{}
		for n < len(acts) && n < s.cfg.BatchSize {
			a := acts[n]
			k := a.index + "\x00" + a.id
			if n > 0 && (size+len(a.lines) > s.cfg.BulkSizeBytes || ids[k]) {
				break
			}
			ids[k] = true
			size += len(a.lines)
			n++
		}
		r, err := s.send(ctx, acts[:n])
		if err != nil {
			return nil, err
		}
		refused = append(refused, r...)
		acts = acts[n:]
	}
	return refused, nil
}

// send writes one bulk request, retrying it whole on 429, 502, 503, 504 and
// connection errors and retrying its rejected items, up to max.retries times
// in all, with capped exponential backoff and jitter.
func (s *Sink) send(ctx context.Context, acts []action) ([]*sink.RecordError, error) {
	var refused []*sink.RecordError
	var body bytes.Buffer
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(s.cfg.RetryBackoff, attempt)); err != nil {
				return nil, err
			}
		}
		body.Reset()
		for _, a := range acts {
			body.Write(a.lines)
		}
		resp, err := s.do(ctx, http.MethodPost, "/_bulk", body.Bytes())
		if err != nil {
			if isRetriable(err) && attempt < s.cfg.MaxRetries && ctx.Err() == nil {
				s.log.Debug("bulk request failed, retrying", "actions", len(acts), "attempt", attempt+1, "err", err)
				continue
			}
			return nil, fmt.Errorf("bulk request of %d actions (%d retries): %w", len(acts), attempt, err)
		}
		items, err := parseBulkResponse(resp, len(acts))
		if err != nil {
			return nil, err
		}
		var again []action
		var lastRetry string
		for i, it := range items {
			a := acts[i]
			switch classify(a.op, a.versioned, it) {
			case outcomeOK:
			case outcomeRetry:
				again = append(again, a)
				lastRetry = fmt.Sprintf("status %d %s", it.Status, it.Error)
			case outcomeMalformed:
				err := fmt.Errorf("%s %s/%s: status %d: %s", a.op, a.index, a.id, it.Status, it.Error)
				switch s.cfg.MalformedDocuments {
				case MalformedIgnore:
					s.log.Debug("ignoring malformed document", "topic", a.rec.OriginalTopic, "partition", a.rec.Partition, "offset", a.rec.Offset, "err", err)
				case MalformedWarn:
					s.log.Warn("dropping malformed document", "topic", a.rec.OriginalTopic, "partition", a.rec.Partition, "offset", a.rec.Offset, "err", err)
				default:
					refused = append(refused, &sink.RecordError{Record: a.rec, Err: &DocumentError{Status: it.Status, Type: errType(it.Error), Reason: err.Error()}})
				}
			default:
				return nil, fmt.Errorf("%s %s/%s (topic %s partition %d offset %d): status %d: %s",
					a.op, a.index, a.id, a.rec.OriginalTopic, a.rec.Partition, a.rec.Offset, it.Status, it.Error)
			}
		}
		if len(again) == 0 {
			return refused, nil
		}
		if attempt >= s.cfg.MaxRetries || ctx.Err() != nil {
			return nil, retriableError{fmt.Errorf("%d of %d bulk items still rejected after %d retries (max.retries): last %s", len(again), len(acts), attempt, lastRetry)}
		}
		s.log.Debug("bulk items rejected, retrying", "items", len(again), "of", len(acts), "attempt", attempt+1, "last", lastRetry)
		acts = again
	}
}

// DocumentError is a document the engine refused (mapping or parsing).
type DocumentError struct {
	Status int
	Type   string
	Reason string
}

func (e *DocumentError) Error() string { return e.Reason }

// ExceptionClass names the error in the dead letter queue's
// __connect.errors.exception.class.name header.
func (e *DocumentError) ExceptionClass() string {
	return "org.apache.kafka.connect.errors.ConnectException"
}

func errType(e *itemError) string {
	if e == nil {
		return ""
	}
	return e.Type
}

// ensureIndices creates each missing index of the buffer that has a
// document with a struct schema, with the mapping of that schema. An
// existing index is left as it is. Requests failing with a retriable error
// are retried as bulk requests are.
func (s *Sink) ensureIndices(ctx context.Context) error {
	for _, a := range s.pending {
		if s.ready[a.index] || a.schema == nil {
			continue
		}
		if err := s.retrying(ctx, func() error { return s.ensureIndex(ctx, a) }); err != nil {
			return err
		}
		s.ready[a.index] = true
	}
	return nil
}

func (s *Sink) ensureIndex(ctx context.Context, a action) error {
	exists, err := s.exists(ctx, a.index)
	if err != nil || exists {
		return err
	}
	body, err := json.Marshal(map[string]any{"mappings": mapping(a.schema, s.cfg.DecimalMapping)})
	if err != nil {
		return fmt.Errorf("mapping of index %s: %w", a.index, err)
	}
	if _, err := s.do(ctx, http.MethodPut, "/"+a.index, body); err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Type == "resource_already_exists_exception" {
			return nil // another task, or an earlier attempt that timed out
		}
		return fmt.Errorf("create index %s: %w", a.index, err)
	}
	s.log.Info("created index", "index", a.index)
	return nil
}

// retrying runs op until it succeeds, fails for good or has been retried
// max.retries times.
func (s *Sink) retrying(ctx context.Context, op func() error) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(s.cfg.RetryBackoff, attempt)); err != nil {
				return err
			}
		}
		err := op()
		if err == nil || !isRetriable(err) || attempt >= s.cfg.MaxRetries || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Sink) exists(ctx context.Context, index string) (bool, error) {
	_, err := s.do(ctx, http.MethodHead, "/"+index, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index %s: %w", index, err)
	}
	return true, nil
}

// do sends one request bounded by read.timeout.ms and returns the body of a
// 2xx response; other statuses come back as *StatusError, connection
// errors marked retriable.
func (s *Sink) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		if path == "/_bulk" {
			req.Header.Set("Content-Type", "application/x-ndjson")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	resp, err := s.client.Perform(req) //nolint:staticcheck // Perform buffers the response, which is what the sink wants.
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return nil, retriableError{fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, retriableError{fmt.Errorf("%s %s: read response: %w", method, path, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newStatusError(method, path, resp.StatusCode, data)
	}
	return data, nil
}

// backoff is the wait before retry attempt (1, 2, …): base doubling per
// attempt, capped at 1000 times base, with "equal jitter" (half fixed,
// half random) so that tasks rejected together do not retry together.
func backoff(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < 1000*base; i++ {
		d *= 2
	}
	d = min(d, 1000*base)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
