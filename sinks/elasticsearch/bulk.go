package elasticsearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// bulkResponse is the part of a _bulk response the sink reads.
type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

// bulkItem is one item's result.
type bulkItem struct {
	Index  string     `json:"_index"`
	ID     string     `json:"_id"`
	Status int        `json:"status"`
	Result string     `json:"result"`
	Error  *itemError `json:"error"`
}

// itemError is an item's error object (or a whole response's).
type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

func (e *itemError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// parseBulkResponse decodes a _bulk response body holding n items.
func parseBulkResponse(body []byte, n int) ([]bulkItem, error) {
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode bulk response: %w", err)
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("bulk response has %d items for %d actions", len(r.Items), n)
	}
	out := make([]bulkItem, n)
	for i, m := range r.Items {
		if len(m) != 1 {
			return nil, fmt.Errorf("bulk response item %d has %d operations", i, len(m))
		}
		for _, it := range m {
			out[i] = it
		}
	}
	return out, nil
}

// outcome is what an item's result means for its record.
type outcome int

const (
	outcomeOK        outcome = iota // written, or superseded by a newer version
	outcomeRetry                    // rejected for now (429, unavailable shards): send again
	outcomeMalformed                // the engine refuses the document: behavior.on.malformed.documents
	outcomeFatal                    // anything else: fails the flush
)

// malformedTypes are the error types of documents the engine cannot
// index: mapping and parsing failures, a value the field refuses.
var malformedTypes = map[string]bool{
	"mapper_parsing_exception":            true,
	"document_parsing_exception":          true, // Elasticsearch 8
	"strict_dynamic_mapping_exception":    true,
	"illegal_argument_exception":          true,
	"action_request_validation_exception": true,
	"parse_exception":                     true,
	"json_parse_exception":                true,
	"x_content_parse_exception":           true,
	"mapper_exception":                    true,
	"number_format_exception":             true,
	"invalid_index_name_exception":        true,
}

// retryTypes are the error types of items the engine refused for now.
var retryTypes = map[string]bool{
	"es_rejected_execution_exception":         true,
	"opensearch_rejected_execution_exception": true,
	"rejected_execution_exception":            true,
	"circuit_breaking_exception":              true,
	"unavailable_shards_exception":            true,
	"no_shard_available_action_exception":     true,
	"node_not_connected_exception":            true,
	"process_cluster_event_timeout_exception": true,
	"timeout_exception":                       true,
}

// classify decides what an item's result means for an action of op,
// versioned or not.
func classify(op string, versioned bool, it bulkItem) outcome {
	if it.Error == nil {
		if it.Status < 300 || (op == opDelete && it.Status == 404) {
			return outcomeOK
		}
		return classifyStatus(it.Status)
	}
	t := it.Error.Type
	switch {
	case t == "version_conflict_engine_exception":
		if versioned {
			// The stored document (or delete tombstone) has this version
			// or a newer one: the write is superseded, as good as done.
			return outcomeOK
		}
		return outcomeRetry
	case op == opDelete && t == "index_not_found_exception":
		return outcomeOK // nothing to delete
	case retryTypes[t]:
		return outcomeRetry
	case malformedTypes[t]:
		return outcomeMalformed
	}
	return classifyStatus(it.Status)
}

func classifyStatus(status int) outcome {
	switch status {
	case 429, 502, 503, 504:
		return outcomeRetry
	}
	// Not a 400 whatever its type: a closed index answers 400 too, and
	// sending its documents to the dead letter queue would lose them
	// quietly.
	return outcomeFatal
}

// retriableError marks an error the task layer may retry (the records come
// again; nothing is lost).
type retriableError struct{ err error }

func (e retriableError) Error() string   { return e.err.Error() }
func (e retriableError) Unwrap() error   { return e.err }
func (e retriableError) Retriable() bool { return true }

// StatusError is a request the engine answered with an error status.
type StatusError struct {
	Method, Path string
	Status       int
	Type, Reason string // of the response's error object, when it has one
	Body         string // the start of the body otherwise
}

func (e *StatusError) Error() string {
	msg := e.Type + ": " + e.Reason
	if e.Type == "" {
		msg = strings.TrimSpace(e.Body)
	}
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, msg)
}

// Retriable reports whether the status is one the sink retries: too many
// requests, bad gateway, unavailable, gateway timeout.
func (e *StatusError) Retriable() bool { return classifyStatus(e.Status) == outcomeRetry }

// newStatusError reads an error response body.
func newStatusError(method, path string, status int, body []byte) *StatusError {
	e := &StatusError{Method: method, Path: path, Status: status}
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil && len(r.Error) > 0 {
		var ie itemError
		if json.Unmarshal(r.Error, &ie) == nil && ie.Type != "" {
			e.Type, e.Reason = ie.Type, ie.Reason
			return e
		}
	}
	if len(body) > 512 {
		body = body[:512]
	}
	e.Body = string(body)
	return e
}

// isRetriable reports whether err is marked retriable.
func isRetriable(err error) bool {
	var r interface{ Retriable() bool }
	return errors.As(err, &r) && r.Retriable()
}
