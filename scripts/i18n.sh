#!/usr/bin/env bash
# Message catalogues (docs/i18n.md):
#
#   scripts/i18n.sh update          extract the messages of the templates, scripts and pages' Python
#                                   and merge them into every callcenter/locale/*/LC_MESSAGES/messages.po
#   scripts/i18n.sh init LANGUAGE   start a catalogue for a new language (a Babel name: fr, pt_BR...)
#
# Then translate the new (empty) and fuzzy entries in the .po files; the server reads them at start.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
pybabel="$here/.venv/bin/pybabel"
pot="$(mktemp --suffix=.pot)"
trap 'rm -f "$pot"' EXIT
# Keywords: _ and gettext (templates, N_ in Python), t (scripts), tr (pages.py: tr(request, "...")),
# add_nav (its title, the second argument).
"$pybabel" extract -F callcenter/locale/babel.cfg -k t -k tr:2 -k add_nav:2 \
  --no-wrap --sort-output --add-location=file --project=callcenter -o "$pot" callcenter/web
case "${1:-update}" in
  update) "$pybabel" update --no-wrap --ignore-pot-creation-date -i "$pot" -d callcenter/locale ;;
  init) "$pybabel" init -i "$pot" -d callcenter/locale -l "${2:?a language, e.g. fr}" --no-wrap ;;
  *) echo "usage: scripts/i18n.sh [update | init LANGUAGE]" >&2; exit 2 ;;
esac
