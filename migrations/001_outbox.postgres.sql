-- The transactional outbox table for Postgres, with the columns Debezium's
-- Outbox Event Router reads by default (see outbox/ and the README section
-- "Transactional outbox"). Idempotent: applying it twice is harmless.
--
-- The table is created in the first schema of search_path (public by
-- default); set search_path first, or qualify the name, to put it elsewhere,
-- and name it in the source's outbox.table (schema.table).
--
--   id                  event id: the "id" header consumers deduplicate on
--   aggregatetype       routes the event: topic outbox.event.<aggregatetype>
--   aggregateid         the Kafka record key (one partition per aggregate,
--                       so each aggregate's events stay in commit order)
--   type                the event type (an additional field if wanted:
--                       table.fields.additional.placement: type:header:eventType)
--   payload             the record value
--   timestamp           when the event was written (table.field.event.timestamp:
--                       timestamp maps it to the event's timestamp)
--   tracingspancontext  optional tracing span context
--
-- Retention: Sluice routes inserts only, and ignores deletes and updates of
-- outbox rows. Services should delete each row right after inserting it, in
-- the same transaction (outbox.WriterConfig.DeleteAfterInsert): the insert
-- is still in the write-ahead log, so it is captured, and the table never
-- grows. Otherwise delete old rows periodically. The table needs no replica
-- identity beyond its primary key.
CREATE TABLE IF NOT EXISTS outbox (
    id                 uuid         PRIMARY KEY,
    aggregatetype      varchar(255) NOT NULL,
    aggregateid        varchar(255) NOT NULL,
    type               varchar(255) NOT NULL,
    payload            jsonb,
    "timestamp"        timestamp(6) NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC'),
    tracingspancontext varchar(256)
);
