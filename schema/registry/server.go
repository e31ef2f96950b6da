package registry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// storeTimeout bounds how long a request waits for the store (Confluent's
// kafkastore.timeout.ms plays this role).
const storeTimeout = 30 * time.Second

// maxAttempts bounds optimistic retries when another instance wins an id or
// version first.
const maxAttempts = 20

// Server is an embedded Confluent-compatible schema registry.
type Server struct {
	cfg  Config
	opts options

	mu sync.RWMutex // guards st
	st *state

	writeMu sync.Mutex // one write operation at a time in this instance

	ready     chan struct{}
	readyOnce sync.Once

	// kafka storage: the client exists while Run runs.
	amu      sync.Mutex
	cl       *kgo.Client
	applied  int64         // next offset to apply
	advanced chan struct{} // closed and replaced whenever applied moves

	// file storage.
	file *os.File

	requests *prometheus.CounterVec
}

// New prepares a registry. For file storage it loads the file, and the
// server is ready at once; for kafka storage Run creates the topic if
// needed, reads it from the start and closes Ready once caught up. New
// starts no goroutines.
func New(ctx context.Context, cfg Config, opts ...Option) (*Server, error) {
	if cfg.Storage == "" {
		cfg.Storage = StorageKafka
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("schema registry config: %w", err)
	}
	s := &Server{cfg: cfg, st: newState(), ready: make(chan struct{}), advanced: make(chan struct{})}
	for _, o := range opts {
		o(&s.opts)
	}
	if s.opts.log == nil {
		s.opts.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.reg != nil {
		s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_schema_registry_requests_total",
			Help: "Schema registry REST requests by method and HTTP status.",
		}, []string{"method", "code"})
		if err := s.opts.reg.Register(s.requests); err != nil {
			return nil, fmt.Errorf("schema registry metrics: %w", err)
		}
	}
	switch cfg.Storage {
	case StorageKafka:
		if len(s.opts.brokers) == 0 {
			return nil, errors.New("schema registry: kafka storage needs brokers (WithKafka)")
		}
	case StorageFile:
		if err := s.loadFile(); err != nil {
			return nil, err
		}
		s.markReady()
	}
	return s, nil
}

// Ready is closed once the store has caught up and requests are served.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

// Run keeps the store in sync until ctx ends. With kafka storage it
// consumes the topic; with file storage it only waits (and closes the file
// at the end).
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.Storage == StorageFile {
		<-ctx.Done()
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		return s.file.Close()
	}
	return s.runKafka(ctx)
}

// wait blocks until the server is ready.
func (s *Server) wait(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// --- file storage -------------------------------------------------------

// fileLine is one line of the file store: a _schemas record.
type fileLine struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

func (s *Server) loadFile() error {
	f, err := os.OpenFile(s.cfg.File, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open schema registry file: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l fileLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			// A torn last line from a crash mid-append is skipped.
			s.opts.log.Warn("schema registry: skip bad file line", "file", s.cfg.File, "line", n, "err", err)
			continue
		}
		rec := record{Key: l.Key}
		if len(l.Value) > 0 && string(l.Value) != "null" {
			rec.Value = l.Value
		}
		s.st.apply(rec, s.opts.log)
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return fmt.Errorf("read schema registry file %s: %w", s.cfg.File, err)
	}
	s.file = f
	return nil
}

func (s *Server) writeFile(recs []record) error {
	var buf []byte
	for _, r := range recs {
		v := json.RawMessage("null")
		if r.Value != nil {
			v = r.Value
		}
		buf = append(buf, marshal(fileLine{Key: r.Key, Value: v})...)
		buf = append(buf, '\n')
	}
	if _, err := s.file.Write(buf); err != nil {
		return fmt.Errorf("append to %s: %w", s.cfg.File, err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.cfg.File, err)
	}
	s.mu.Lock()
	for _, r := range recs {
		s.st.apply(r, s.opts.log)
	}
	s.mu.Unlock()
	return nil
}

// --- kafka storage ------------------------------------------------------

func (s *Server) runKafka(ctx context.Context) error {
	topic := s.cfg.Topic
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.opts.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(), // harmless when the broker disallows it
	}, s.opts.kopts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("schema registry kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := ensureTopic(ctx, adm, topic); err != nil {
		return err
	}
	// A topic just created may take a moment to show in metadata.
	var end int64
	for attempt := 0; ; attempt++ {
		end, err = endOffset(ctx, adm, topic)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt == 120 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
	s.amu.Lock()
	s.cl = cl
	s.amu.Unlock()
	defer func() {
		s.amu.Lock()
		s.cl = nil
		s.amu.Unlock()
	}()
	if end == 0 {
		s.markReady()
	}
	s.opts.log.Info("schema registry reading store", "topic", topic, "end_offset", end)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.opts.log.Warn("schema registry fetch", "topic", t, "partition", p, "err", err)
				ferr = err
			}
		})
		if ferr != nil && fs.NumRecords() == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		var last int64 = -1
		s.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			s.st.apply(record{Key: r.Key, Value: r.Value}, s.opts.log)
			last = r.Offset
		})
		s.mu.Unlock()
		if last < 0 {
			continue
		}
		s.amu.Lock()
		s.applied = last + 1
		close(s.advanced)
		s.advanced = make(chan struct{})
		s.amu.Unlock()
		if last+1 >= end {
			s.markReady()
		}
	}
}

func ensureTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create schema registry topic %s: %w", topic, err)
	}
	return nil
}

func endOffset(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("end offset of %s: %w", topic, err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok {
		return 0, fmt.Errorf("end offset of %s: partition 0 missing", topic)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("end offset of %s: %w", topic, o.Err)
	}
	return o.Offset, nil
}

func (s *Server) client() *kgo.Client {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.cl
}

// waitApplied blocks until every record before offset off is applied.
func (s *Server) waitApplied(ctx context.Context, off int64) error {
	for {
		s.amu.Lock()
		done, ch := s.applied >= off, s.advanced
		s.amu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// --- store operations used by the API ------------------------------------

// sync makes the state reflect every record in the store at the time of
// the call (Confluent: waitUntilKafkaReaderReachesLastOffset).
func (s *Server) sync(ctx context.Context) error {
	if s.cfg.Storage == StorageFile {
		return nil
	}
	cl := s.client()
	if cl == nil {
		return errors.New("kafka store is not running")
	}
	end, err := endOffset(ctx, kadm.NewClient(cl), s.cfg.Topic)
	if err != nil {
		return err
	}
	return s.waitApplied(ctx, end)
}

// write appends records and returns once the state has applied them.
func (s *Server) write(ctx context.Context, recs ...record) error {
	if s.cfg.Storage == StorageFile {
		return s.writeFile(recs)
	}
	cl := s.client()
	if cl == nil {
		return errors.New("kafka store is not running")
	}
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Topic: s.cfg.Topic, Partition: 0, Key: r.Key, Value: r.Value}
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("write to %s: %w", s.cfg.Topic, err)
	}
	var last int64
	for _, r := range krs {
		last = max(last, r.Offset)
	}
	return s.waitApplied(ctx, last+1)
}
