-- The obvious alternative: an append-only table of events in PostgreSQL,
-- hash-chained like the ledger (each event's hash is SHA-256 of the previous
-- hash and the event's bytes), with the same indexes a ledger needs: the
-- global order (seq), each referral's stream, and idempotency keys.
CREATE TABLE ledger_head (
  id   int PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash bytea  NOT NULL
);
INSERT INTO ledger_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE events (
  seq             bigint PRIMARY KEY,
  referral_id     text        NOT NULL,
  type            text        NOT NULL,
  occurred_at     timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL,
  idempotency_key text UNIQUE,
  data            jsonb       NOT NULL,
  hash            bytea       NOT NULL
);
CREATE INDEX events_stream ON events (referral_id, seq);
-- Append-only: no update or delete, whoever asks.
CREATE RULE events_no_update AS ON UPDATE TO events DO INSTEAD NOTHING;
CREATE RULE events_no_delete AS ON DELETE TO events DO INSTEAD NOTHING;
