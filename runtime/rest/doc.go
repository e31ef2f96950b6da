// Package rest serves Kafka Connect's REST API (default port 8083) over a
// runtime.Herder: the same paths, status codes, JSON shapes and error bodies
// ({"error_code": N, "message": "..."}) as Kafka Connect 4.1, checked against
// the recording in testdata/connect-rest (replay_test.go).
//
// Kafka Connect's answers are kept where they surprise (a malformed JSON body
// is a 500, an unknown path a 404 whose JSON body has no Content-Type
// header, GET /connectors/{unknown}/topics a 200); the one deliberate
// difference is that configuration values of secret keys are masked as
// "[hidden]" (see runtime.Secret).
//
// Protection is off by default. Config.BasicAuth (user → password) and
// Config.BearerTokens enable it: a request must then carry
// "Authorization: Basic …" with a listed user and password, or
// "Authorization: Bearer <token>" with a listed token; otherwise the answer
// is 401 with a WWW-Authenticate header. Serve the API over TLS when
// protection is on, since both schemes send the secret in every request.
package rest
