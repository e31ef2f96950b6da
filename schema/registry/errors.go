package registry

import (
	"fmt"
	"net/http"
)

// apiError is a REST error with Confluent's error_code (Errors.java and the
// Rest*Exception classes of io.confluent.kafka.schemaregistry.rest.exceptions,
// 7.x).
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %d: %s", e.status, e.code, e.msg) }

// Error codes.
const (
	codeSubjectNotFound          = 40401
	codeVersionNotFound          = 40402
	codeSchemaNotFound           = 40403
	codeSubjectSoftDeleted       = 40404
	codeSubjectNotSoftDeleted    = 40405
	codeVersionSoftDeleted       = 40406
	codeVersionNotSoftDeleted    = 40407
	codeSubjectLevelNotConfigued = 40408
	codeIncompatible             = 409 // 7.x: Response.Status.CONFLICT
	codeInvalidSchema            = 42201
	codeInvalidVersion           = 42202
	codeInvalidCompatibility     = 42203
	codeStore                    = 50001
	codeTimeout                  = 50002
)

func errSubjectNotFound(s string) *apiError {
	return &apiError{http.StatusNotFound, codeSubjectNotFound, fmt.Sprintf("Subject '%s' not found.", s)}
}

func errVersionNotFound(v int) *apiError {
	return &apiError{http.StatusNotFound, codeVersionNotFound, fmt.Sprintf("Version %d not found.", v)}
}

func errSchemaNotFound() *apiError {
	return &apiError{http.StatusNotFound, codeSchemaNotFound, "Schema not found"}
}

func errSchemaIDNotFound(id int) *apiError {
	return &apiError{http.StatusNotFound, codeSchemaNotFound, fmt.Sprintf("Schema %d not found", id)}
}

func errSubjectSoftDeleted(s string) *apiError {
	return &apiError{http.StatusNotFound, codeSubjectSoftDeleted, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", s)}
}

func errSubjectNotSoftDeleted(s string) *apiError {
	return &apiError{http.StatusNotFound, codeSubjectNotSoftDeleted, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", s)}
}

func errVersionSoftDeleted(s, v string) *apiError {
	return &apiError{http.StatusNotFound, codeVersionSoftDeleted, fmt.Sprintf("Subject '%s' Version %s was soft deleted.Set permanent=true to delete permanently", s, v)}
}

func errVersionNotSoftDeleted(s, v string) *apiError {
	return &apiError{http.StatusNotFound, codeVersionNotSoftDeleted, fmt.Sprintf("Subject '%s' Version %s was not deleted first before being permanently deleted", s, v)}
}

func errSubjectLevelNotConfigured(s string) *apiError {
	return &apiError{http.StatusNotFound, codeSubjectLevelNotConfigued, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", s)}
}

func errIncompatible(subject string, details []string) *apiError {
	msg := fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [", subject)
	for i, d := range details {
		if i > 0 {
			msg += ", "
		}
		msg += d
	}
	return &apiError{http.StatusConflict, codeIncompatible, msg + "]"}
}

func errInvalidSchema(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, codeInvalidSchema, msg}
}

func errInvalidVersion(v string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, codeInvalidVersion, fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)}
}

func errInvalidCompatibility() *apiError {
	return &apiError{http.StatusUnprocessableEntity, codeInvalidCompatibility, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}
}

func errStore(msg string, err error) *apiError {
	return &apiError{http.StatusInternalServerError, codeStore, fmt.Sprintf("%s; error: %v", msg, err)}
}

func errTimeout(msg string) *apiError {
	return &apiError{http.StatusInternalServerError, codeTimeout, msg}
}
