#!/bin/sh
# Entrypoint of the callcenter Redis image (Debian 12's redis-server).
#
# `redis-server` (the default command): Redis with its configuration on standard input, so that
# $REDIS_PASSWORD never appears on a command line (ps); listening on $REDIS_LISTEN (127.0.0.1 by
# default) port $REDIS_PORT, append-only file in /var/lib/redis (the volume).
set -eu

if [ "${1:-}" = "redis-server" ]; then
    : "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    printf 'bind %s\nport %s\nrequirepass "%s"\nappendonly yes\ndir /var/lib/redis\nprotected-mode yes\n' \
        "${REDIS_LISTEN:-127.0.0.1}" "$REDIS_PORT" "$REDIS_PASSWORD" \
        | exec redis-server -
fi
exec "$@"
