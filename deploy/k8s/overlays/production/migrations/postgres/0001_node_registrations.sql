-- Tables the postgres_adapter node's statements use (contracts/nodes/postgres_adapter.yaml).
-- Applied once, in a transaction, by migrations/postgres/apply.sh; written so that a
-- database that already holds these tables (created by hand, or by the legacy
-- deployment) is left as it is.
CREATE TABLE IF NOT EXISTS node_registrations (
    slug          text PRIMARY KEY,
    node_kind     text NOT NULL,
    version       text NOT NULL,
    endpoint      text,
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS node_heartbeats (
    id      bigserial PRIMARY KEY,
    slug    text NOT NULL REFERENCES node_registrations (slug) ON DELETE CASCADE,
    status  text NOT NULL CHECK (status IN ('ok', 'degraded', 'failing')),
    seen_at timestamptz NOT NULL DEFAULT now()
);
