"""The words of the e-mailed reports (reports/mailer.py), marked here for the translation catalogue
(scripts/i18n.sh extracts ``callcenter/web``); the mailer translates them into the schedule's
language with :func:`callcenter.web.i18n.gettext`."""

from __future__ import annotations

from callcenter.web.i18n import N_

SUBJECT = N_("Report {name}: {report}, {period}")
BODY = N_(
    "The report {name} ({report}) for {period}, time zone {zone}: {rows} row(s), attached as {file}.\n"
    "Intervals are in UTC. Sent by the contact center's report schedule."
)
REPORT_NAMES = {
    "queues": N_("queues"),
    "agents": N_("agents"),
    "adherence": N_("schedule adherence"),
    "conversations": N_("conversations"),
    "fcr": N_("first-contact resolution"),
}
