package mongodb

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Capture modes (capture.mode), as Debezium's MongoDB connector names them.
const (
	// CaptureChangeStreams: update events carry updateDescription only.
	CaptureChangeStreams = "change_streams"
	// CaptureChangeStreamsUpdateFull: update events also carry the whole
	// document as it is when the stream reads the event (fullDocument:
	// updateLookup). Debezium's default.
	CaptureChangeStreamsUpdateFull = "change_streams_update_full"
	// CaptureChangeStreamsWithPreImage and
	// CaptureChangeStreamsUpdateFullWithPreImage also ask for the document
	// before the change (fullDocumentBeforeChange: whenAvailable), which
	// becomes before in update and delete events. The collection must have
	// changeStreamPreAndPostImages enabled (MongoDB 6.0+); without it
	// before stays null.
	CaptureChangeStreamsWithPreImage           = "change_streams_with_pre_image"
	CaptureChangeStreamsUpdateFullWithPreImage = "change_streams_update_full_with_pre_image"
)

// updateFull reports whether update events carry the looked-up document.
func (c Config) updateFull() bool {
	return c.CaptureMode == CaptureChangeStreamsUpdateFull || c.CaptureMode == CaptureChangeStreamsUpdateFullWithPreImage
}

// preImage reports whether events carry the document before the change.
func (c Config) preImage() bool {
	return c.CaptureMode == CaptureChangeStreamsWithPreImage || c.CaptureMode == CaptureChangeStreamsUpdateFullWithPreImage
}

// Capture scopes (capture.scope).
const (
	ScopeDeployment = "deployment"
	ScopeDatabase   = "database"
	ScopeCollection = "collection"
)

// Snapshot modes (snapshot.mode).
const (
	SnapshotInitial     = "initial"      // snapshot when no position is stored, then stream
	SnapshotInitialOnly = "initial_only" // snapshot when no position is stored, then stop
	SnapshotNoData      = "no_data"      // never snapshot documents; stream from now
	// SnapshotWhenNeeded snapshots when no position is stored and again
	// when the stored position is no longer in the oplog.
	SnapshotWhenNeeded = "when_needed"
)

// Config holds the Debezium MongoDB connector keys Sluice supports, spelled
// as in Debezium. It lives in the mongodb: block of a source in sluice.yaml;
// the zero value means every default. The captured collections are the
// source's tables list (db.collection); tombstones.on.delete is handled by
// the wiring.
type Config struct {
	CaptureMode  string `yaml:"capture.mode" json:"capture.mode"`
	SnapshotMode string `yaml:"snapshot.mode" json:"snapshot.mode"`
	// SnapshotMaxThreads is how many collections a snapshot reads at once
	// (0 or 1: one after the other, in name order).
	SnapshotMaxThreads int `yaml:"snapshot.max.threads" json:"snapshot.max.threads"`
	// SnapshotFetchSize is the cursor batch size while snapshotting.
	SnapshotFetchSize int `yaml:"snapshot.fetch.size" json:"snapshot.fetch.size"`
	// MaxBatchSize bounds the events handed downstream at once.
	MaxBatchSize int `yaml:"max.batch.size" json:"max.batch.size"`
	// PollIntervalMs is the pause after a change stream poll that found
	// nothing.
	PollIntervalMs int `yaml:"poll.interval.ms" json:"poll.interval.ms"`
	// CursorMaxAwaitTimeMs is how long the server holds a change stream
	// getMore that has nothing to return (0: the server's default).
	CursorMaxAwaitTimeMs int `yaml:"cursor.max.await.time.ms" json:"cursor.max.await.time.ms"`
	// HeartbeatIntervalMs, when positive, is how often a heartbeat record
	// goes to __debezium-heartbeat.<topic.prefix> while streaming, carrying
	// the newest position (0: no heartbeats, Debezium's default).
	HeartbeatIntervalMs int `yaml:"heartbeat.interval.ms" json:"heartbeat.interval.ms"`

	// CaptureScope narrows what is captured to one database (database) or
	// one collection (collection), named by CaptureTarget (db, or
	// db.collection); deployment, the default, captures every database.
	// On a replica set or sharded cluster one change stream watches the
	// scope (the deployment, the database or the collection) and events of
	// other collections are left out; a server that does not say it is one
	// (the stand-in test server) gets one stream per collection and the
	// scope only chooses the collections, as the lists below do.
	CaptureScope  string `yaml:"capture.scope" json:"capture.scope"`
	CaptureTarget string `yaml:"capture.target" json:"capture.target"`

	// The include and exclude lists choose the captured collections when
	// the source's tables list is empty: regular expressions matching the
	// whole database name, or the whole db.collection name. An include
	// list and the exclude list of the same kind cannot be used together.
	DatabaseIncludeList   List `yaml:"database.include.list" json:"database.include.list"`
	DatabaseExcludeList   List `yaml:"database.exclude.list" json:"database.exclude.list"`
	CollectionIncludeList List `yaml:"collection.include.list" json:"collection.include.list"`
	CollectionExcludeList List `yaml:"collection.exclude.list" json:"collection.exclude.list"`
	// FieldExcludeList names fields left out of the documents in events
	// (after, before, updateDescription), as
	// databaseName.collectionName.fieldName.nestedFieldName; the database
	// and collection names may use * for any characters.
	FieldExcludeList List `yaml:"field.exclude.list" json:"field.exclude.list"`
	// ProvideTxMetadata adds Debezium's transaction block to the events of
	// multi-document transactions and emits BEGIN/END records on
	// <topic.prefix>.transaction (txmeta.go).
	ProvideTxMetadata bool `yaml:"provide.transaction.metadata" json:"provide.transaction.metadata"`
}

// Defaults of the keys whose zero value is not the default.
const (
	DefaultSnapshotFetchSize = 1024
	DefaultMaxBatchSize      = 2048
	DefaultPollIntervalMs    = 500
)

func (c Config) withDefaults() Config {
	if c.CaptureMode == "" {
		c.CaptureMode = CaptureChangeStreamsUpdateFull
	}
	if c.SnapshotMode == "" {
		c.SnapshotMode = SnapshotInitial
	}
	if c.SnapshotFetchSize == 0 {
		c.SnapshotFetchSize = DefaultSnapshotFetchSize
	}
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.PollIntervalMs == 0 {
		c.PollIntervalMs = DefaultPollIntervalMs
	}
	return c
}

// Validate reports every problem with c; zero values stand for defaults.
func (c Config) Validate() error {
	var p config.Problems
	switch c.CaptureMode {
	case "", CaptureChangeStreams, CaptureChangeStreamsUpdateFull, CaptureChangeStreamsWithPreImage, CaptureChangeStreamsUpdateFullWithPreImage:
	default:
		p.Addf("capture.mode", "unknown capture mode %q (want %s, %s, %s or %s)", c.CaptureMode, CaptureChangeStreams, CaptureChangeStreamsUpdateFull, CaptureChangeStreamsWithPreImage, CaptureChangeStreamsUpdateFullWithPreImage)
	}
	switch c.SnapshotMode {
	case "", SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotWhenNeeded:
	default:
		p.Addf("snapshot.mode", "unknown snapshot mode %q (want %s, %s, %s or %s)", c.SnapshotMode, SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotWhenNeeded)
	}
	for _, f := range []struct {
		key string
		v   int
	}{
		{"snapshot.fetch.size", c.SnapshotFetchSize},
		{"snapshot.max.threads", c.SnapshotMaxThreads},
		{"max.batch.size", c.MaxBatchSize},
		{"poll.interval.ms", c.PollIntervalMs},
		{"cursor.max.await.time.ms", c.CursorMaxAwaitTimeMs},
		{"heartbeat.interval.ms", c.HeartbeatIntervalMs},
	} {
		if f.v < 0 {
			p.Addf(f.key, "must not be negative, got %d", f.v)
		}
	}
	switch c.CaptureScope {
	case "", ScopeDeployment:
		if c.CaptureTarget != "" {
			p.Addf("capture.target", "has no effect with capture.scope %s", ScopeDeployment)
		}
	case ScopeDatabase:
		if c.CaptureTarget == "" || strings.Contains(c.CaptureTarget, ".") {
			p.Addf("capture.target", "capture.scope database needs the database name, got %q", c.CaptureTarget)
		}
	case ScopeCollection:
		if db, coll, ok := strings.Cut(c.CaptureTarget, "."); !ok || db == "" || coll == "" {
			p.Addf("capture.target", "capture.scope collection needs db.collection, got %q", c.CaptureTarget)
		}
	default:
		p.Addf("capture.scope", "unknown capture scope %q (want %s, %s or %s)", c.CaptureScope, ScopeDeployment, ScopeDatabase, ScopeCollection)
	}
	for _, l := range []struct {
		key  string
		list List
	}{
		{"database.include.list", c.DatabaseIncludeList},
		{"database.exclude.list", c.DatabaseExcludeList},
		{"collection.include.list", c.CollectionIncludeList},
		{"collection.exclude.list", c.CollectionExcludeList},
	} {
		for i, s := range l.list {
			if _, err := compileAnchored(s); err != nil {
				p.Addf(fmt.Sprintf("%s[%d]", l.key, i), "bad regular expression %q: %v", s, err)
			}
		}
	}
	if len(c.DatabaseIncludeList) > 0 && len(c.DatabaseExcludeList) > 0 {
		p.Addf("database.exclude.list", "cannot be used together with database.include.list")
	}
	if len(c.CollectionIncludeList) > 0 && len(c.CollectionExcludeList) > 0 {
		p.Addf("collection.exclude.list", "cannot be used together with collection.include.list")
	}
	if _, err := parseFieldRules(c.FieldExcludeList); err != nil {
		p.Addf("field.exclude.list", "%v", err)
	}
	return p.Err()
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
