// Package e2e holds end-to-end tests that run the sluice binary against the
// real services (Postgres, Kafka) and check what lands on the topics. It has
// no non-test code beyond this comment.
package e2e
