-- The host's own table: one row per command with side effects that the db handler ran
-- (docs/architecture.md, "Exactly-once effects in PostgreSQL"). The handler writes the row
-- in the same transaction as the command's statements, so a redelivered command finds it
-- and is answered from it instead of running again; an aborted command leaves no row.
-- Applied once, in a transaction, by migrations/postgres/apply.sh.
CREATE TABLE IF NOT EXISTS onex_host_idempotency (
    envelope_id    uuid        NOT NULL,
    -- '' for a command sent to one node; the node's slug for each node a broadcast ran on.
    scope          text        NOT NULL,
    node_slug      text        NOT NULL,
    operation      text        NOT NULL,
    -- SHA-256 of the request (source node and payload): a reused envelope id is refused, not answered.
    request_digest bytea       NOT NULL CHECK (length(request_digest) = 32),
    -- The success payload of the reply, exactly as first published (json keeps its text and key order).
    -- NULL only inside the claiming transaction, which never commits it so.
    reply_payload  json,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (envelope_id, scope)
);

-- The purge deletes expired rows in bounded batches, oldest first.
CREATE INDEX IF NOT EXISTS onex_host_idempotency_expires_at ON onex_host_idempotency (expires_at);
