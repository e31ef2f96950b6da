// Package outbox implements the transactional outbox: Debezium's Outbox
// Event Router semantics on the capture side, and a small library services
// call to write outbox rows inside their own database transaction. The
// outbox tables it expects are created by the SQL under migrations/.
package outbox
