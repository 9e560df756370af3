#!/bin/sh
# Apply the PostgreSQL migrations next to this script (NNNN_name.sql), in order,
# each exactly once. The one mechanism everywhere: the compose `migrate` service,
# the Kubernetes `onex-host-migrate` Job and tests/appliance/test_migrations.py
# run this script with psql.
#
#   PGHOST=... PGPORT=... PGDATABASE=... PGUSER=... PGPASSWORD=... sh migrations/postgres/apply.sh [DIR]
#
# Each migration runs in its own transaction together with its row in
# onex_schema_migrations, under a transaction-scoped advisory lock: two runners
# started at once apply it once, a failed migration leaves no trace, and a second
# run applies nothing.
set -eu

dir="${1:-$(dirname "$0")}"
psql_() { psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 "$@"; }

psql_ --command "CREATE TABLE IF NOT EXISTS onex_schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"

found=0
for file in "$dir"/[0-9][0-9][0-9][0-9]_*.sql; do
    [ -f "$file" ] || continue
    found=1
    version=$(basename "$file" .sql)
    psql_ --set version="$version" --set file="$file" <<'SQL'
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('onex_schema_migrations'));
SELECT NOT EXISTS (SELECT 1 FROM onex_schema_migrations WHERE version = :'version') AS pending \gset
\if :pending
\echo migrate: applying :version
\i :file
INSERT INTO onex_schema_migrations (version) VALUES (:'version');
\else
\echo migrate: :version already applied
\endif
COMMIT;
SQL
done

if [ "$found" -eq 0 ]; then
    echo "migrate: no migrations in $dir" >&2
    exit 1
fi
