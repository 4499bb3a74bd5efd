#!/bin/sh
# Entrypoint of the callcenter PostgreSQL image (Debian 12's postgresql-15).
#
# `postgres` (the default command): on an empty $PGDATA, create the cluster (UTF-8, scram-sha-256
# for TCP, peer for the socket), the role $POSTGRES_USER with $POSTGRES_PASSWORD and the database
# $POSTGRES_DB owned by it; then replace this shell with the server, listening on
# $POSTGRES_LISTEN (127.0.0.1 by default) port $PGPORT. The password reaches psql through its
# environment (\getenv), never a command line.
set -eu

if [ "${1:-}" = "postgres" ]; then
    shift
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    user="${POSTGRES_USER:-callcenter}"
    db="${POSTGRES_DB:-callcenter}"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        echo "docker-entrypoint: creating the cluster in $PGDATA" >&2
        initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >/dev/null
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p $PGPORT" -w -s start
        # \getenv (psql 15): the password from the environment into a psql variable, quoted by
        # psql (:'pw'), never on a command line.
        psql -X -q -v ON_ERROR_STOP=1 -U postgres -d postgres -v user="$user" -v db="$db" <<'SQL'
\getenv pw POSTGRES_PASSWORD
CREATE ROLE :"user" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
SQL
        pg_ctl -D "$PGDATA" -m fast -w -s stop
    fi
    exec postgres -D "$PGDATA" -p "$PGPORT" -c listen_addresses="${POSTGRES_LISTEN:-127.0.0.1}" "$@"
fi
exec "$@"
