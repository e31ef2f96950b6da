package mongodb

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/event"
)

// ErrPrerequisite is returned (wrapped) when the deployment cannot be
// captured as configured: no cluster time to start a change stream from.
// A restart does not help.
var ErrPrerequisite = errors.New("mongodb prerequisite not met")

// ErrHistoryLost is returned (wrapped) when a change stream cannot resume
// because its resume token or start time is no longer in the oplog: events
// after the stored position are lost. With snapshot.mode when_needed the
// connector takes a new snapshot instead; otherwise a restart does not help.
var ErrHistoryLost = errors.New("mongodb change stream history lost")

// historyLost reports whether err is the server's answer to a resume point
// that has fallen off the oplog: ChangeStreamHistoryLost (286), or
// ChangeStreamFatalError (280, "the resume token was not found") on older
// servers.
func historyLost(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(286) || se.HasErrorCode(280))
}

// streamError wraps an error of the change stream of ns, marking a lost
// history with ErrHistoryLost.
func streamError(ns, what string, err error) error {
	if historyLost(err) {
		return fmt.Errorf("mongodb: %s %s: %w: %w", what, ns, ErrHistoryLost, err)
	}
	return fmt.Errorf("mongodb: %s %s: %w", what, ns, err)
}

// Options are what the wiring gives a source besides its Config.
type Options struct {
	Name        string   // source (connector) name from sluice.yaml
	TopicPrefix string   // topic.prefix; also Debezium's source.name
	URL         string   // mongodb://... connection string (never log it)
	Tables      []string // "db.collection" list; empty: every collection found at start that the include/exclude lists allow
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // for the connector's metrics; may be nil
	Start       event.Position        // last saved position (nil on first start)
	// DiscoveryInterval is how often a source without Tables looks for
	// new collections while streaming (0: DefaultDiscoveryInterval).
	DiscoveryInterval time.Duration
	// Now, when set, replaces time.Now for the event and source timestamps
	// (tests).
	Now func() time.Time
}

// Source is the MongoDB capture connector.
type Source struct {
	cfg    Config
	opts   Options
	log    *slog.Logger
	colls  []namespace // from Options.Tables
	filter nsFilter    // include/exclude lists, for an empty Options.Tables
	fields []fieldRule // field.exclude.list
	start  *position   // decoded Options.Start
	m      *metrics

	mu    sync.Mutex
	acked event.Position
}

// New validates cfg and opts; it starts no goroutines and does no I/O.
func New(cfg Config, opts Options) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if opts.TopicPrefix == "" {
		return nil, errors.New("mongodb: topic prefix is required")
	}
	if !strings.HasPrefix(opts.URL, "mongodb://") && !strings.HasPrefix(opts.URL, "mongodb+srv://") {
		return nil, errors.New("mongodb: url must be a mongodb:// or mongodb+srv:// connection string") // never echo it
	}
	s := &Source{cfg: cfg, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("connector", opts.Name)
	for _, t := range opts.Tables {
		db, coll, ok := strings.Cut(t, ".")
		if !ok || db == "" || coll == "" {
			return nil, fmt.Errorf("mongodb: collection %q must be db.collection", t)
		}
		s.colls = append(s.colls, namespace{db, coll})
	}
	var err error
	if s.m, err = newMetrics(opts.Registerer, opts.Name); err != nil {
		return nil, fmt.Errorf("mongodb: metrics: %w", err)
	}
	if s.filter, err = newNSFilter(cfg); err != nil {
		return nil, err
	}
	if s.fields, err = parseFieldRules(cfg.FieldExcludeList); err != nil {
		return nil, fmt.Errorf("mongodb: field.exclude.list: %w", err)
	}
	if len(opts.Tables) > 0 && (cfg.CaptureScope != "" || len(cfg.DatabaseIncludeList)+len(cfg.DatabaseExcludeList)+len(cfg.CollectionIncludeList)+len(cfg.CollectionExcludeList) > 0) {
		s.log.Warn("mongodb: capture.scope and the include/exclude lists are ignored: the tables list names the collections")
	}
	if opts.Start != nil {
		p, err := decodePosition(opts.Start)
		if err != nil {
			return nil, err
		}
		s.start = &p
	}
	return s, nil
}

// Ack records that every event up to pos is durably in Kafka and its
// position saved. Change streams keep no state on the server, so nothing is
// sent; the next start resumes from the saved position.
func (s *Source) Ack(_ context.Context, pos event.Position) error {
	if _, err := decodePosition(pos); err != nil {
		return err
	}
	s.mu.Lock()
	s.acked = append(s.acked[:0], pos...)
	s.mu.Unlock()
	return nil
}

// Acked returns the last acknowledged position (nil before the first Ack).
func (s *Source) Acked() event.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(event.Position(nil), s.acked...)
}

// Run connects, snapshots per snapshot.mode, then streams every captured
// collection's changes until ctx ends or a fatal error. Positions are
// handed out with the events; Run returns ctx.Err() on cancellation.
func (s *Source) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	err := s.run(ctx, emit)
	if ctx.Err() != nil {
		return ctx.Err() // whatever the driver made of the cancellation
	}
	return err
}

func (s *Source) run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	client, err := mongo.Connect(options.Client().ApplyURI(s.opts.URL))
	if err != nil {
		return fmt.Errorf("mongodb: connect: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	if err := client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongodb: ping: %w", err)
	}
	colls := s.colls
	var listedAfter *clusterTime // before the listing: new collections start there
	if len(colls) == 0 {
		t, err := currentClusterTime(ctx, client)
		if err != nil {
			return err
		}
		listedAfter = &t
		if colls, err = listCollections(ctx, client, s.filter); err != nil {
			return err
		}
		s.log.Info("mongodb collections found", "collections", len(colls))
	}
	conv := newConverter(s.opts.TopicPrefix, s.cfg.updateFull(), s.opts.Now)
	conv.fields = s.fields

	var pos position
	switch {
	case s.start != nil:
		pos = s.start.clone()
	case s.cfg.SnapshotMode == SnapshotNoData:
		if pos.Start, err = currentClusterTime(ctx, client); err != nil {
			return err
		}
	default:
		if pos.Start, err = currentClusterTime(ctx, client); err != nil {
			return err
		}
		pos.Snapshot = &snapshotState{}
	}
	for {
		if pos.Snapshot != nil {
			if err := s.snapshot(ctx, client, conv, colls, &pos, emit); err != nil {
				return err
			}
			if s.cfg.SnapshotMode == SnapshotInitialOnly {
				return nil
			}
		}
		err := s.stream(ctx, client, conv, colls, listedAfter, pos, emit)
		if !errors.Is(err, ErrHistoryLost) || s.cfg.SnapshotMode != SnapshotWhenNeeded || ctx.Err() != nil {
			return err
		}
		s.log.Warn("mongodb resume point no longer in the oplog; taking a new snapshot (snapshot.mode when_needed)", "error", err)
		pos = position{Snapshot: &snapshotState{}}
		if pos.Start, err = currentClusterTime(ctx, client); err != nil {
			return err
		}
	}
}

// listCollections returns every collection outside admin, config and local
// that f captures.
func listCollections(ctx context.Context, client *mongo.Client, f nsFilter) ([]namespace, error) {
	dbs, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongodb: list databases: %w", err)
	}
	slices.Sort(dbs)
	var out []namespace
	for _, db := range dbs {
		if db == "admin" || db == "config" || db == "local" || !f.capturesDB(db) {
			continue
		}
		names, err := client.Database(db).ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("mongodb: list collections of %s: %w", db, err)
		}
		slices.Sort(names)
		for _, n := range names {
			if ns := (namespace{db, n}); !strings.HasPrefix(n, "system.") && f.captures(ns) {
				out = append(out, ns)
			}
		}
	}
	return out, nil
}

// currentClusterTime returns the first cluster time after the deployment's
// last operation, the point the change streams start from after a snapshot
// (startAtOperationTime is inclusive; every operation up to the last is in
// what the snapshot reads): after the operationTime of a hello (replica
// sets and sharded clusters report it), else after the newest oplog entry's
// ts, else (an empty oplog, as on a fresh stand-in test server) the zero
// time, the beginning of the oplog.
func currentClusterTime(ctx context.Context, client *mongo.Client) (clusterTime, error) {
	res := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}})
	if raw, err := res.Raw(); err == nil {
		if v, err := raw.LookupErr("operationTime"); err == nil {
			if t, i, ok := v.TimestampOK(); ok {
				return clusterTime{T: t, I: i}.next(), nil
			}
		}
	}
	var last struct {
		TS bson.Timestamp `bson:"ts"`
	}
	err := client.Database("local").Collection("oplog.rs").
		FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "$natural", Value: -1}})).Decode(&last)
	switch {
	case err == nil:
		return clusterTime{T: last.TS.T, I: last.TS.I}.next(), nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return clusterTime{}, nil
	}
	return clusterTime{}, fmt.Errorf("%w: no cluster time (hello has no operationTime and local.oplog.rs cannot be read: %v); change streams need a replica set", ErrPrerequisite, err)
}

// snapDoc is one document read by a snapshot reader.
type snapDoc struct {
	ns   namespace
	doc  bson.Raw // nil: the collection is empty
	last bool     // the collection's last document
}

// snapshot reads every collection not yet done in _id order, up to
// snapshot.max.threads collections at a time, and emits their documents as
// op=r events. Each event's position keeps the snapshot state; the last
// document of a collection marks it done, so a restart reads only the
// collections not completely acknowledged. The very last event of the
// snapshot has source.snapshot "last".
func (s *Source) snapshot(ctx context.Context, client *mongo.Client, conv *converter, colls []namespace, pos *position, emit func(context.Context, event.Batch) error) error {
	var todo []namespace
	for _, ns := range colls {
		if !slices.Contains(pos.Snapshot.Done, ns.String()) {
			todo = append(todo, ns)
		}
	}
	s.log.Info("mongodb snapshot", "collections", len(todo), "done", len(pos.Snapshot.Done))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(rctx)
	queue := make(chan namespace)
	docs := make(chan snapDoc, s.cfg.SnapshotFetchSize)
	g.Go(func() error {
		defer close(queue)
		for _, ns := range todo {
			select {
			case queue <- ns:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var readers sync.WaitGroup
	for range max(1, min(s.cfg.SnapshotMaxThreads, len(todo))) {
		readers.Add(1)
		g.Go(func() error {
			defer readers.Done()
			for ns := range queue {
				if err := s.readCollection(gctx, client, ns, docs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	go func() {
		readers.Wait()
		close(docs)
	}()

	ord := int32(pos.Start.I)
	batch := make(event.Batch, 0, s.cfg.MaxBatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := emit(ctx, batch)
		batch = make(event.Batch, 0, s.cfg.MaxBatchSize)
		return err
	}
	add := func(d snapDoc, mark string) error {
		if d.last {
			pos.Snapshot.Done = append(pos.Snapshot.Done, d.ns.String())
		}
		ev, err := conv.read(d.doc, d.ns, mark, ord)
		if err != nil {
			return err
		}
		ev.Position = pos.encode()
		batch = append(batch, ev)
		s.m.snapshotDocs.Inc()
		if len(batch) >= s.cfg.MaxBatchSize {
			return flush()
		}
		return nil
	}
	// One document is held back: only at the end is it known to be the
	// snapshot's last.
	var pending *snapDoc
	var err error
	for d := range docs {
		if d.doc == nil {
			pos.Snapshot.Done = append(pos.Snapshot.Done, d.ns.String())
			continue
		}
		if pending != nil {
			if err = add(*pending, SnapshotTrue); err != nil {
				break
			}
		}
		pending = &d
	}
	if err != nil {
		cancel()
		for range docs { // until the readers are gone
		}
		_ = g.Wait()
		return err
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if pending != nil {
		if err := add(*pending, SnapshotLast); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	pos.Snapshot = nil
	return nil
}

// readCollection reads ns in _id order into docs, marking its last
// document (or sending one doc-less snapDoc for an empty collection).
func (s *Source) readCollection(ctx context.Context, client *mongo.Client, ns namespace, docs chan<- snapDoc) error {
	cur, err := client.Database(ns.db).Collection(ns.coll).Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(int32(s.cfg.SnapshotFetchSize)))
	if err != nil {
		return fmt.Errorf("mongodb: snapshot %s: %w", ns, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	send := func(d snapDoc) error {
		select {
		case docs <- d:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var prev bson.Raw
	n := 0
	for cur.Next(ctx) {
		if prev != nil {
			if err := send(snapDoc{ns: ns, doc: prev}); err != nil {
				return err
			}
		}
		prev = slices.Clone(cur.Current)
		n++
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongodb: snapshot %s: %w", ns, err)
	}
	if err := send(snapDoc{ns: ns, doc: prev, last: true}); err != nil {
		return err
	}
	s.log.Info("mongodb snapshot: collection read", "table", ns.String(), "documents", n)
	return nil
}

// streamed is one change stream event on its way to the emitting goroutine.
type streamed struct {
	ns    namespace
	raw   bson.Raw
	token bson.Raw
	start *clusterTime // set (alone) for a collection found while streaming
}

// DefaultDiscoveryInterval is how often a source without a tables list
// looks for new collections while streaming.
const DefaultDiscoveryInterval = 10 * time.Second

// discover lists the collections every Options.DiscoveryInterval and
// starts a change stream for each new one the filters capture. A
// collection missing from one listing was created after the cluster time
// taken before that listing, so its stream starts there and misses
// nothing; no snapshot is needed. The start time is handed to the emitting
// goroutine (and so into positions) before any of its events.
func (s *Source) discover(ctx context.Context, client *mongo.Client, prev clusterTime, known map[string]bool, ch chan<- streamed, start func(namespace, clusterTime)) error {
	every := s.opts.DiscoveryInterval
	if every <= 0 {
		every = DefaultDiscoveryInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		now, err := currentClusterTime(ctx, client)
		if err != nil {
			return err
		}
		found, err := listCollections(ctx, client, s.filter)
		if err != nil {
			return err
		}
		for _, ns := range found {
			if known[ns.String()] {
				continue
			}
			known[ns.String()] = true
			s.log.Info("mongodb new collection", "table", ns.String())
			from := prev
			select {
			case ch <- streamed{ns: ns, start: &from}:
			case <-ctx.Done():
				return ctx.Err()
			}
			start(ns, from)
		}
		prev = now
	}
}

// stream watches the captured collections and emits their events in the
// order they arrive. On a server that supports them (scopeStreams) one
// change stream covers the whole capture scope, so events of all
// collections, and every event of a multi-document transaction, arrive in
// oplog order under one resume token (position.Token). Otherwise (the
// stand-in test server, or a position written by per-collection streams)
// every collection has its own stream; each event's position then holds
// every collection's last token handed on, so an acknowledged position
// resumes each stream right after its last acknowledged event.
func (s *Source) stream(ctx context.Context, client *mongo.Client, conv *converter, colls []namespace, listedAfter *clusterTime, pos position, emit func(context.Context, event.Batch) error) error {
	g, gctx := errgroup.WithContext(ctx)
	ch := make(chan streamed, s.cfg.MaxBatchSize)
	shared := pos.Token != "" || (!pos.perCollection() && scopeStreams(ctx, client))
	if shared {
		tok, err := pos.scopeToken()
		if err != nil {
			return err
		}
		sc := s.scopeFor()
		s.log.Info("mongodb change stream per capture scope", "level", sc.level)
		g.Go(func() error { return s.watchScope(gctx, client, sc, tok, pos.Start, ch) })
	} else {
		known := map[string]bool{}
		for _, ns := range colls {
			tok, err := pos.token(ns.String())
			if err != nil {
				return err
			}
			known[ns.String()] = true
			start := pos.startOf(ns.String())
			g.Go(func() error { return s.watch(gctx, client, ns, tok, start, ch) })
		}
		if listedAfter != nil {
			g.Go(func() error {
				return s.discover(gctx, client, *listedAfter, known, ch, func(ns namespace, start clusterTime) {
					g.Go(func() error { return s.watch(gctx, client, ns, nil, start, ch) })
				})
			})
		}
	}
	var beat <-chan time.Time
	if s.cfg.HeartbeatIntervalMs > 0 {
		t := time.NewTicker(ms(s.cfg.HeartbeatIntervalMs))
		defer t.Stop()
		beat = t.C
	}
	now := s.opts.Now
	if now == nil {
		now = time.Now
	}
	st := &streamState{s: s, conv: conv, shared: shared, pos: &pos, mon: txMonitor{prefix: s.opts.TopicPrefix, now: now}}
	g.Go(func() error {
		for {
			var first streamed
			select {
			case first = <-ch:
			case <-beat:
				hb := event.Heartbeat(s.opts.TopicPrefix, now(), pos.encode())
				if err := emit(gctx, event.Batch{hb}); err != nil {
					return err
				}
				continue
			case <-gctx.Done():
				return gctx.Err()
			}
			msgs := []streamed{first}
		drain:
			for len(msgs) < s.cfg.MaxBatchSize {
				select {
				case m := <-ch:
					msgs = append(msgs, m)
				default:
					break drain
				}
			}
			batch := make(event.Batch, 0, len(msgs))
			for _, m := range msgs {
				var err error
				if batch, err = st.handle(batch, m); err != nil {
					return err
				}
			}
			if len(batch) == 0 {
				continue
			}
			if err := emit(gctx, batch); err != nil {
				return err
			}
			s.m.streamEvents.Add(float64(len(batch)))
		}
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// streamState is what the emitting goroutine of stream keeps: the
// position every event carries, and how to advance it.
type streamState struct {
	s      *Source
	conv   *converter
	shared bool // one scope-wide stream: pos.Token, not pos.Tokens
	pos    *position
	mon    txMonitor
}

func (st *streamState) setToken(ns namespace, tok bson.Raw) {
	if st.shared {
		st.pos.Token = base64.StdEncoding.EncodeToString(tok)
	} else {
		st.pos.setToken(ns.String(), tok)
	}
}

// handle appends to batch what one message of a change stream produces
// (nothing, an event, or with provide.transaction.metadata also the END
// and BEGIN records before it) and advances the position past it.
func (st *streamState) handle(batch event.Batch, m streamed) (event.Batch, error) {
	switch {
	case m.start != nil: // a collection found while streaming
		st.pos.setStart(m.ns.String(), *m.start)
		return batch, nil
	case m.raw == nil: // a post-batch resume token: no event
		st.setToken(m.ns, m.token)
		return batch, nil
	}
	op, _ := m.raw.Lookup("operationType").StringValueOK()
	var ev event.Event
	ok := false
	if !st.shared || st.s.capturesEvent(m.raw) {
		var err error
		if ev, ok, err = st.conv.change(m.raw, m.ns); err != nil {
			return batch, err
		}
	}
	if ok && st.s.cfg.ProvideTxMetadata {
		// BEGIN/END go before the event, at the position before it.
		batch = append(batch, st.mon.step(st.pos, &ev)...)
	}
	// An invalidate token only serves startAfter; a restart resumes
	// before it and meets the invalidate again.
	if op != "invalidate" {
		st.setToken(m.ns, m.token)
	}
	if !ok {
		return batch, nil
	}
	ev.Position = st.pos.encode()
	return append(batch, ev), nil
}

// watch reads the change stream of one collection into ch, from after tok
// or, without one, from the cluster time start (inclusive). An invalidate
// event (the collection was dropped or renamed) ends the stream; it is
// opened again after it.
func (s *Source) watch(ctx context.Context, client *mongo.Client, ns namespace, tok bson.Raw, start clusterTime, ch chan<- streamed) error {
	coll := client.Database(ns.db).Collection(ns.coll)
	return s.follow(ctx, ns.String(), func(opts *options.ChangeStreamOptionsBuilder) (*mongo.ChangeStream, error) {
		return coll.Watch(ctx, mongo.Pipeline{}, opts)
	}, func(bson.Raw) namespace { return ns }, tok, start, ch)
}

// watchScope reads the one change stream of the capture scope sc into ch;
// every event goes with the namespace it names (ns), the zero namespace
// for events without one (invalidate, dropDatabase).
func (s *Source) watchScope(ctx context.Context, client *mongo.Client, sc scopeStream, tok bson.Raw, start clusterTime, ch chan<- streamed) error {
	pipeline := mongo.Pipeline{}
	if sc.match != nil {
		pipeline = append(pipeline, bson.D{{Key: "$match", Value: sc.match}})
	}
	open := func(opts *options.ChangeStreamOptionsBuilder) (*mongo.ChangeStream, error) {
		switch sc.level {
		case ScopeCollection:
			return client.Database(sc.db).Collection(sc.coll).Watch(ctx, pipeline, opts)
		case ScopeDatabase:
			return client.Database(sc.db).Watch(ctx, pipeline, opts)
		}
		return client.Watch(ctx, pipeline, opts)
	}
	return s.follow(ctx, sc.String(), open, eventNamespace, tok, start, ch)
}

// follow opens a change stream with open from after tok or, without one,
// from the cluster time start (inclusive), and forwards its events to ch
// with the namespace nsOf gives them. An invalidate event ends the stream;
// it is opened again after it.
func (s *Source) follow(ctx context.Context, what string, open func(*options.ChangeStreamOptionsBuilder) (*mongo.ChangeStream, error), nsOf func(bson.Raw) namespace, tok bson.Raw, start clusterTime, ch chan<- streamed) error {
	startAfter := false
	for {
		opts := options.ChangeStream()
		if s.cfg.updateFull() {
			opts.SetFullDocument(options.UpdateLookup)
		}
		if s.cfg.preImage() {
			opts.SetFullDocumentBeforeChange(options.WhenAvailable)
		}
		if s.cfg.CursorMaxAwaitTimeMs > 0 {
			opts.SetMaxAwaitTime(ms(s.cfg.CursorMaxAwaitTimeMs))
		}
		switch {
		case tok != nil && startAfter:
			opts.SetStartAfter(tok)
		case tok != nil:
			opts.SetResumeAfter(tok)
		default:
			opts.SetStartAtOperationTime(start.timestamp())
		}
		cs, err := open(opts)
		if err != nil {
			return streamError(what, "watch", err)
		}
		s.log.Debug("mongodb change stream open", "table", what, "resume", tok != nil)
		s.m.streams.Inc()
		invalidated, err := s.pump(ctx, cs, what, nsOf, ch)
		cs.Close(context.WithoutCancel(ctx))
		s.m.streams.Dec()
		if err != nil {
			return err
		}
		if invalidated != nil {
			tok, startAfter = invalidated, true
		}
	}
}

// pump forwards events until ctx ends, an error, or an invalidate event,
// whose token it returns.
func (s *Source) pump(ctx context.Context, cs *mongo.ChangeStream, what string, nsOf func(bson.Raw) namespace, ch chan<- streamed) (bson.Raw, error) {
	poll := ms(s.cfg.PollIntervalMs)
	var last bson.Raw // the last token sent
	for {
		if cs.TryNext(ctx) {
			raw := slices.Clone(cs.Current)
			m := streamed{ns: nsOf(raw), raw: raw, token: slices.Clone(cs.ResumeToken())}
			select {
			case ch <- m:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			last = m.token
			if op, _ := m.raw.Lookup("operationType").StringValueOK(); op == "invalidate" {
				return m.token, nil
			}
			continue
		}
		if err := cs.Err(); err != nil {
			return nil, streamError(what, "change stream of", err)
		}
		// An empty batch may still move the resume token on (a post-batch
		// resume token, past changes to other collections); heartbeats
		// carry it into the position.
		if tok := cs.ResumeToken(); s.cfg.HeartbeatIntervalMs > 0 && tok != nil && !bytes.Equal(tok, last) {
			last = slices.Clone(tok)
			select {
			case ch <- streamed{ns: nsOf(nil), token: last}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}
