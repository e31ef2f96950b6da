-- The transactional outbox table for MySQL and MariaDB, with the columns
-- Debezium's Outbox Event Router reads by default (see outbox/ and the
-- README section "Transactional outbox"). Idempotent: applying it twice is
-- harmless. Create it in the service's database and name it in the source's
-- outbox.table as database.outbox (and in its tables list).
--
--   id                  event id, the "id" header consumers deduplicate on:
--                       a UUID in its canonical 36-character text form, as
--                       Debezium's examples and Hibernate's uuid-char map it,
--                       so the header is the same text on every database (a
--                       BINARY(16) id would reach Kafka as bytes)
--   aggregatetype       routes the event: topic outbox.event.<aggregatetype>
--   aggregateid         the Kafka record key (one partition per aggregate,
--                       so each aggregate's events stay in commit order)
--   type                the event type (an additional field if wanted:
--                       table.fields.additional.placement: type:header:eventType)
--   payload             the record value, JSON text (on MariaDB JSON is
--                       LONGTEXT with a JSON_VALID check; on MySQL the binary
--                       JSON type: both reach Kafka as the JSON text)
--   timestamp           when the event was written, in UTC (a DATETIME, which
--                       Debezium reads as UTC; table.field.event.timestamp:
--                       timestamp maps it to the record timestamp). The
--                       writer library sets it with UTC_TIMESTAMP(6); the
--                       default below uses the session time zone
--   tracingspancontext  optional tracing span context
--
-- Retention: Sluice routes inserts only, and ignores deletes and updates of
-- outbox rows. Services should delete each row right after inserting it, in
-- the same transaction (outbox.WriterConfig.DeleteAfterInsert): the insert
-- is still in the binlog (binlog_format=ROW), so it is captured, and the
-- table never grows. Otherwise delete old rows periodically, and keep the
-- binlog long enough (binlog_expire_logs_seconds / expire_logs_days) for
-- Sluice to catch up after an outage.
CREATE TABLE IF NOT EXISTS outbox (
    id                 CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    aggregatetype      VARCHAR(255) NOT NULL,
    aggregateid        VARCHAR(255) NOT NULL,
    type               VARCHAR(255) NOT NULL,
    payload            JSON,
    `timestamp`        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    tracingspancontext VARCHAR(256)
) DEFAULT CHARACTER SET utf8mb4;
