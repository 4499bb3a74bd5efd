#!/bin/sh
# Entrypoint of the callcenter Asterisk image.
#
# Starting the daemon (the default command `asterisk -f -n`): render asterisk_conf/ from the
# environment (CALLCENTER_<SECTION>__<KEY>, plus the YAML file named by CALLCENTER_CONFIG) into
# /srv/callcenter/<instance>/etc/asterisk, then replace this shell with Asterisk, so that Asterisk
# is the process that receives `docker stop`'s SIGTERM (it shuts down cleanly). Secrets exist only
# in the environment and in the rendered files (mode 0640, owned by the asterisk user), never in the
# image.
#
# A remote console (`asterisk -rx ...`) or anything else (`sh`) runs as given, without rendering.
set -eu

daemon=no
if [ "${1:-}" = "asterisk" ] || [ "${1:-}" = "/usr/sbin/asterisk" ]; then
    daemon=yes
    for arg in "$@"; do
        case "$arg" in
            -*[rRx]*) daemon=no ;;  # -r, -R, -rx: a console attached to a running Asterisk
        esac
    done
fi
if [ "$daemon" = "yes" ]; then
    python3 /opt/callcenter/render_config.py config >/dev/null
fi
exec "$@"
