#!/bin/sh
# Entrypoint of the callcenter Kamailio image (Debian 12's kamailio).
#
# `kamailio` (the default command): write the dispatcher list (set 1) from ASTERISK_SERVERS, the
# Asterisk servers' SIP URIs separated by spaces ("sip:127.0.0.1:17160 sip:127.0.0.1:17260"),
# into /tmp, then replace this shell with Kamailio in the foreground, logging to stderr, with
# $KAMAILIO_CFG (asterisk_conf/kamailio/kamailio.cfg mounted from the repository) listening on
# $KAMAILIO_LISTEN. Extra arguments are passed on (e.g. -A PING_INTERVAL=2).
set -eu

if [ "${1:-}" = "kamailio" ]; then
    shift
    : "${ASTERISK_SERVERS:?set ASTERISK_SERVERS (the Asterisk servers SIP URIs)}"
    list=/tmp/dispatcher.list
    : >"$list"
    for uri in $ASTERISK_SERVERS; do
        printf '1 %s 0 0\n' "$uri" >>"$list"
    done
    mkdir -p /tmp/kamailio
    exec kamailio -DD -E -f "$KAMAILIO_CFG" -Y /tmp/kamailio \
        -A "LISTEN=$KAMAILIO_LISTEN" -A "DISPATCHER_LIST=\"$list\"" "$@"
fi
exec "$@"
