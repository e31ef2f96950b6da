package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one configuration field. Path is relative to
// the struct whose Validate reported it ("tables[1]", "sasl.mechanism"); the
// composing parent prefixes its own path with Problems.Merge, and the loader
// turns the full path into "FILE:LINE: path: problem".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Problems collects FieldErrors so that a Validate method reports every
// problem at once instead of stopping at the first.
type Problems struct {
	list []*FieldError
}

// Addf records a problem with the field at path.
func (p *Problems) Addf(path, format string, args ...any) {
	p.list = append(p.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Merge records the problems in err (typically the result of a nested
// Validate) with prefix prepended to their paths. Errors that are not
// FieldErrors are recorded against prefix itself. A nil err is ignored.
func (p *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	for _, fe := range Flatten(err) {
		p.list = append(p.list, &FieldError{Path: JoinPath(prefix, fe.Path), Msg: fe.Msg})
	}
}

// Err returns nil when nothing was recorded, else an error joining every
// FieldError in the order recorded.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	errs := make([]error, len(p.list))
	for i, fe := range p.list {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

// Flatten returns the FieldErrors inside err, walking errors.Join trees. An
// error that carries no FieldError becomes one with an empty path.
func Flatten(err error) []*FieldError {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range joined.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Msg: err.Error()}}
}

// JoinPath joins a parent path and a child path: "sources[0]" + "tables[1]"
// gives "sources[0].tables[1]"; an index child ("[2]") attaches without a dot.
// Keys may themselves contain dots ("bootstrap.servers"), so a path is not
// split on dots: [LineOf] matches it key by key against the YAML document.
func JoinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case strings.HasPrefix(child, "["):
		return parent + child
	default:
		return parent + "." + child
	}
}
