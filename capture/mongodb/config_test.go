package mongodb

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"zero value is the defaults", Config{}, ""},
		{"change_streams", Config{CaptureMode: CaptureChangeStreams, SnapshotMode: SnapshotNoData}, ""},
		{"pre-images", Config{CaptureMode: CaptureChangeStreamsUpdateFullWithPreImage}, ""},
		{"pre-images without lookup", Config{CaptureMode: CaptureChangeStreamsWithPreImage}, ""},
		{"unknown capture mode", Config{CaptureMode: "oplog"}, "unknown capture mode \"oplog\""},
		{"unknown snapshot mode", Config{SnapshotMode: "always"}, "unknown snapshot mode \"always\""},
		{"when_needed", Config{SnapshotMode: SnapshotWhenNeeded}, ""},
		{"negative", Config{PollIntervalMs: -1}, "poll.interval.ms: must not be negative, got -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
	d := Config{}.withDefaults()
	if d.CaptureMode != CaptureChangeStreamsUpdateFull || d.SnapshotMode != SnapshotInitial || d.SnapshotFetchSize != DefaultSnapshotFetchSize {
		t.Errorf("defaults = %+v", d)
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"no prefix", Options{URL: "mongodb://h"}, "topic prefix is required"},
		{"bad url", Options{TopicPrefix: "p", URL: "postgres://secret@h"}, "url must be a mongodb://"},
		{"bad table", Options{TopicPrefix: "p", URL: "mongodb://h", Tables: []string{"nodot"}}, `collection "nodot" must be db.collection`},
		{"bad position", Options{TopicPrefix: "p", URL: "mongodb://h", Start: []byte(`{"v":9}`)}, "unsupported format version 9"},
		{"bad token", Options{TopicPrefix: "p", URL: "mongodb://h", Start: []byte(`{"v":1,"start":{"t":1,"i":0},"tokens":{"d.c":"!!"}}`)}, "resume token of d.c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Config{}, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New() = %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error echoes the URL: %v", err)
			}
		})
	}
}

func TestPositionRoundTrip(t *testing.T) {
	p := position{Start: clusterTime{T: 5, I: 7}, Snapshot: &snapshotState{Done: []string{"a.b"}}}
	p.setToken("a.b", []byte{5, 0, 0, 0, 0})
	q, err := decodePosition(p.encode())
	if err != nil {
		t.Fatal(err)
	}
	if string(q.encode()) != string(p.encode()) {
		t.Errorf("round trip: %s != %s", q.encode(), p.encode())
	}
	if want := `{"v":1,"start":{"t":5,"i":7},"tokens":{"a.b":"BQAAAAA="},"snapshot":{"done":["a.b"]}}`; string(p.encode()) != want {
		t.Errorf("encode = %s, want %s", p.encode(), want)
	}
	if n := (clusterTime{T: 5, I: ^uint32(0)}).next(); n != (clusterTime{T: 6}) {
		t.Errorf("next of the last increment = %+v", n)
	}
}

// TestHistoryLost: the server errors for a resume point that is no longer
// in the oplog become ErrHistoryLost (the stand-in server never truncates
// its oplog, so this is only unit-tested).
func TestHistoryLost(t *testing.T) {
	ns := namespace{"inventory", "orders"}
	for _, c := range []struct {
		err  error
		lost bool
	}{
		{mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "Resume of change stream was not possible, as the resume point may no longer be in the oplog."}, true},
		{mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError", Message: "cannot resume stream; the resume token was not found."}, true},
		{mongo.CommandError{Code: 11601, Name: "Interrupted"}, false},
		{errors.New("connection reset"), false},
	} {
		err := streamError(ns.String(), "watch", c.err)
		if errors.Is(err, ErrHistoryLost) != c.lost {
			t.Errorf("%v: errors.Is(ErrHistoryLost) = %v, want %v", err, !c.lost, c.lost)
		}
		if !strings.Contains(err.Error(), c.err.Error()) || !strings.Contains(err.Error(), "watch inventory.orders") {
			t.Errorf("%v does not name %v with the collection", err, c.err)
		}
		var ce mongo.CommandError
		if want, ok := c.err.(mongo.CommandError); ok && (!errors.As(err, &ce) || ce.Code != want.Code) {
			t.Errorf("%v does not wrap %v with the collection", err, c.err)
		}
	}
}
