-- pgbench script: one durable append per transaction (synchronous_commit=on),
-- a referral.received for a new referral, chained to the head under its row
-- lock (appends are serialised by the chain, as in the ledger).
\set n random(1, 2000000000)
WITH body AS (
  SELECT format('{"type":"referral.received","referral_id":"pg-%s-%s","occurred_at":"2025-01-01T00:00:00Z","data":{"person":"p%s","area":"E08000025","referrer":"gp","substance":"alcohol","age_band":"30-34","sex":"female","ethnicity":"white","disability":"no"}}',
                :client_id, :n, lpad(:n::text, 16, '0')) AS text
), head AS (
  UPDATE ledger_head
     SET seq = seq + 1,
         hash = sha256(ledger_head.hash || convert_to((SELECT text FROM body), 'UTF8'))
   WHERE id = 1
  RETURNING seq, hash
)
INSERT INTO events
SELECT head.seq, 'pg-' || :client_id || '-' || :n, 'referral.received',
       '2025-01-01T00:00:00Z', now(), 'pg-' || :client_id || '-' || :n,
       ((SELECT text FROM body)::jsonb) -> 'data', head.hash
  FROM head;
