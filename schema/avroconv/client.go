package avroconv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Client is a Confluent Schema Registry client on franz-go's pkg/sr with
// what sr leaves to its caller: an id → schema cache, a (subject, schema)
// → id cache, and retries with capped exponential backoff on 5xx answers
// and network errors (sr itself only fails over to the next URL on a
// network error). 4xx answers are never retried. It implements Registry and
// SchemaLookup.
type Client struct {
	cl  *sr.Client
	hc  *http.Client
	log *slog.Logger

	retries    int
	minBackoff time.Duration
	maxBackoff time.Duration

	mu     sync.Mutex
	byID   map[int]string
	bySubj map[[2]string]int
}

// ClientOption adjusts a Client.
type ClientOption func(*Client)

// WithLogger sets the logger for retry warnings.
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// WithRetry sets how many times a request is retried after a 5xx answer or
// a network error, and the backoff bounds (defaults: 5 retries, 100ms
// doubling up to 5s).
func WithRetry(retries int, minBackoff, maxBackoff time.Duration) ClientOption {
	return func(c *Client) { c.retries, c.minBackoff, c.maxBackoff = retries, minBackoff, maxBackoff }
}

// WithHTTPClient replaces the HTTP client (TLS settings in cfg are then
// ignored).
func WithHTTPClient(h *http.Client) ClientOption {
	return func(c *Client) { c.hc = h }
}

// NewClient returns a client for cfg.SchemaRegistryURL (one or more
// http(s) URLs; "embedded" is resolved by the daemon, which passes the
// embedded server's URL instead).
func NewClient(cfg Config, opts ...ClientOption) (*Client, error) {
	urls := registryURLs(cfg.SchemaRegistryURL)
	if len(urls) == 0 || cfg.SchemaRegistryURL == Embedded {
		return nil, fmt.Errorf("schema registry client: schema.registry.url %q is not a registry URL", cfg.SchemaRegistryURL)
	}
	c := &Client{log: slog.New(slog.DiscardHandler), retries: 5, minBackoff: 100 * time.Millisecond,
		maxBackoff: 5 * time.Second, byID: map[int]string{}, bySubj: map[[2]string]int{}}
	for _, o := range opts {
		o(c)
	}
	hc := c.hc
	srOpts := []sr.ClientOpt{sr.URLs(urls...), sr.UserAgent("sluice")}
	if hc == nil {
		tlsCfg, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsCfg
		hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	srOpts = append(srOpts, sr.HTTPClient(hc))
	if cfg.BasicAuthUserInfo != "" {
		user, pass, ok := strings.Cut(cfg.BasicAuthUserInfo, ":")
		if !ok {
			return nil, errors.New("schema registry client: basic.auth.user.info must be user:password")
		}
		srOpts = append(srOpts, sr.BasicAuth(user, pass))
	}
	cl, err := sr.NewClient(srOpts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	c.cl = cl
	return c, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.CAFile == "" && cfg.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ssl.ca.location: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl.ca.location %s: no PEM certificates", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssl.certificate.location/ssl.key.location: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// retriable reports whether err is a 5xx answer or a transport failure.
func retriable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func (c *Client) do(ctx context.Context, what string, fn func() error) error {
	backoff := c.minBackoff
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= c.retries || !retriable(ctx, err) {
			return err
		}
		c.log.Warn("schema registry request failed, retrying", "op", what, "attempt", attempt+1, "backoff", backoff, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

// mapError turns registry answers into the package's sentinels, keeping
// the subject and the registry's message.
func mapError(subject string, err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	msg := re.Message
	if msg == "" {
		msg = strings.TrimSpace(string(re.Raw))
	}
	switch {
	case re.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: subject %s: %s (error code %d)", ErrIncompatibleSchema, subject, msg, re.ErrorCode)
	case re.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: subject %s: %s (error code %d)", ErrInvalidSchema, subject, msg, re.ErrorCode)
	case re.StatusCode == http.StatusNotFound && (re.ErrorCode == 40401 || re.ErrorCode == 40403):
		return fmt.Errorf("%w: subject %s: %s (error code %d)", ErrSchemaNotFound, subject, msg, re.ErrorCode)
	}
	return fmt.Errorf("%w (HTTP %d, error code %d)", err, re.StatusCode, re.ErrorCode)
}

// Register registers schema under subject (POST /subjects/{s}/versions) and
// returns its id; the answer is cached per (subject, schema).
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	key := [2]string{subject, schema}
	c.mu.Lock()
	id, ok := c.bySubj[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	err := c.do(ctx, "register", func() error {
		var err error
		id, err = c.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro}, -1, -1)
		return err
	})
	if err != nil {
		return 0, mapError(subject, err)
	}
	c.remember(subject, schema, id)
	return id, nil
}

func (c *Client) remember(subject, schema string, id int) {
	c.mu.Lock()
	if subject != "" {
		c.bySubj[[2]string{subject, schema}] = id
	}
	c.byID[id] = schema
	c.mu.Unlock()
}

// Lookup returns the id of schema if it is registered under subject
// (POST /subjects/{s}); ErrSchemaNotFound when it is not.
func (c *Client) Lookup(ctx context.Context, subject, schema string) (int, error) {
	key := [2]string{subject, schema}
	c.mu.Lock()
	id, ok := c.bySubj[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var ss sr.SubjectSchema
	err := c.do(ctx, "lookup", func() error {
		var err error
		ss, err = c.cl.LookupSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
		return err
	})
	if err != nil {
		return 0, mapError(subject, err)
	}
	c.remember(subject, schema, ss.ID)
	return ss.ID, nil
}

// SchemaByID returns the schema text of id (GET /schemas/ids/{id}), cached.
func (c *Client) SchemaByID(ctx context.Context, id int) (string, error) {
	c.mu.Lock()
	s, ok := c.byID[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	var sch sr.Schema
	err := c.do(ctx, "schema by id", func() error {
		var err error
		sch, err = c.cl.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		return "", mapError("", err)
	}
	c.remember("", sch.Schema, id)
	return sch.Schema, nil
}

// Latest returns the latest version of subject
// (GET /subjects/{s}/versions/latest). It is not cached: callers decide how
// long a "latest" stays current.
func (c *Client) Latest(ctx context.Context, subject string) (int, string, error) {
	var ss sr.SubjectSchema
	err := c.do(ctx, "latest", func() error {
		var err error
		ss, err = c.cl.SchemaByVersion(ctx, subject, -1)
		return err
	})
	if err != nil {
		return 0, "", mapError(subject, err)
	}
	c.remember(subject, ss.Schema.Schema, ss.ID)
	return ss.ID, ss.Schema.Schema, nil
}
