-- Tables the postgres_adapter node's statements use.
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
