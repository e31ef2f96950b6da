package runtime

import "fmt"

// Kind classifies an Error the way the REST API answers it.
type Kind int

// Error kinds; the REST API maps them to 400, 404, 409 and 500.
const (
	KindBadRequest Kind = iota + 1
	KindNotFound
	KindConflict
	KindInternal
)

// Error is an error a client of the Herder can act on; its message is
// Kafka Connect's wording where Kafka Connect has one.
type Error struct {
	Kind    Kind
	Message string
	Err     error // optional cause
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) error {
	return &Error{Kind: KindBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

func internal(err error, format string, args ...any) error {
	return &Error{Kind: KindInternal, Message: fmt.Sprintf(format, args...), Err: err}
}
