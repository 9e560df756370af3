#!/bin/bash
# The postgres image's entrypoint contract, reduced to what deploy/ relies on.
set -euo pipefail
if [[ ${1:-} != postgres ]]; then exec "$@"; fi
if [[ $(id -u) -eq 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
[[ -n ${POSTGRES_PASSWORD:-} ]] || { echo "POSTGRES_PASSWORD must be set" >&2; exit 1; }
if [[ ! -s $PGDATA/PG_VERSION ]]; then
    # UTF8 as upstream's en_US.utf8 cluster (C.UTF-8 needs no generated locale).
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") --encoding=UTF8 \
        --locale=C.UTF-8 --auth-host=scram-sha-256 --auth-local=trust -D "$PGDATA" >/dev/null
    printf "host all all all scram-sha-256\n" >>"$PGDATA/pg_hba.conf"
    # Initialisation on a socket only, as upstream: no client connects before it is done.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
    psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc -h /var/run/postgresql -U "$POSTGRES_USER")
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql[@]}" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    fi
    for file in /docker-entrypoint-initdb.d/*; do
        case $file in
        *.sh) echo "initdb: running $file"; . "$file" ;;
        *.sql) echo "initdb: running $file"; "${psql[@]}" -d "$POSTGRES_DB" -f "$file" ;;
        *) [[ -e $file ]] && echo "initdb: ignoring $file" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "initdb: done"
fi
exec postgres -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "${@:2}"
