#!/bin/sh
# Entrypoint of the callcenter server image.
#
# `serve` (the default command): bring the database schema up to date with `callcenter db upgrade`,
# then replace this shell with `callcenter serve` (it receives docker stop's SIGTERM). The server
# also upgrades on start (Database.start); running it first makes a failing migration a clear,
# separate error in the log, and the PostgreSQL advisory lock taken by the migrations lets several
# servers start together safely.
#
# Any other callcenter command or option (`config check`, `db upgrade`, `--version`) runs as
# `callcenter <args>`; anything else (`sh`) runs as given.
set -eu

# Refuse to serve with docker/.env.example's placeholders (CC_ALLOW_TEST_SECRETS=1 overrides; it is
# deliberately not a CALLCENTER_ name, which would be read as a setting).
placeholders() {
    env | sed -n 's/^\(CALLCENTER_[A-Z0-9_]*\)=.*CHANGE-ME.*/\1/p'
}

case "${1:-}" in
    serve)
        if [ "${CC_ALLOW_TEST_SECRETS:-}" != "1" ] && [ -n "$(placeholders)" ]; then
            echo "docker-entrypoint: still CHANGE-ME placeholders:" $(placeholders) \
                "- set real secrets in docker/.env" >&2
            exit 1
        fi
        callcenter db upgrade
        exec callcenter "$@"
        ;;
    db | config | -*)
        exec callcenter "$@"
        ;;
esac
exec "$@"
