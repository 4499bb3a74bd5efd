"""Call lists, do-not-call lists and campaign definitions from files: every problem named with its
file and line, good rows kept, nothing guessed."""

from __future__ import annotations

from datetime import time

import pytest

from callcenter.core.omni.conversations import MessagingChannel
from callcenter.core.omni.customers import Identity, IdentityKind
from callcenter.core.outbound.campaign import Mode, OnMachine, Outcome
from callcenter.messaging.channels.base import InboundMessage
from callcenter.outbound.definitions import parse_definitions, to_core
from callcenter.outbound.lists import ListError, parse_dnc, parse_list, zone_of
from callcenter.outbound.server import stop_word
from callcenter.settings import ConfigError

LIST = """number,timezone,name,email,renewal_date
(212) 555-0100,,Ann,ann@example.com,2027-01-31
+44 20 7946 0000,,Bob,,2027-02-01
not a number,,Carl,,
+1 212 555 0100,,Ann again,,
+86 138 0013 8000,Asia/Shanghai,Dan,,
+61 2 9374 4000,Mars/Olympus,Eve,,
+12125550199,America/Chicago,Fay,fay@@example,
"""


def test_a_list_keeps_good_rows_and_names_each_bad_one() -> None:
    seen: list[tuple[str | None, str | None]] = []

    def lookup(number: str | None, email: str | None) -> str | None:
        seen.append((number, email))
        return "cust-ann" if email == "ann@example.com" else None

    parsed = parse_list(LIST, "leads.csv", "US", existing={"+442079460000"}, lookup=lookup)
    assert [(r.line, r.number, r.tz, r.customer_id) for r in parsed.rows] == [
        (2, "+12125550100", "America/New_York", "cust-ann"),
        (6, "+8613800138000", "Asia/Shanghai", None),
    ]
    assert parsed.rows[0].fields == {"name": "Ann", "email": "ann@example.com", "renewal_date": "2027-01-31"}
    problems = "\n".join(parsed.errors)
    assert "leads.csv:3: +442079460000 is already in the campaign" in problems
    assert "leads.csv:4: 'not a number' is not a phone number" in problems
    assert "leads.csv:5: +12125550100 is a duplicate of line 2" in problems
    assert "leads.csv:7: unknown time zone 'Mars/Olympus'" in problems
    assert "leads.csv:8: 'fay@@example' is not an email address" in problems
    assert parsed.duplicates == 1 and len(parsed.errors) == 5


def test_a_zone_is_taken_from_the_number_only_when_there_is_one() -> None:
    assert zone_of("+442079460000") == "Europe/London"
    with pytest.raises(ValueError, match="several time zones"):
        zone_of("+79123456789")  # a Russian mobile: any of Russia's zones
    parsed = parse_list("number\n+7 912 345-67-89\n", "l.csv", "US")
    assert not parsed.rows and "l.csv:2: the number spans several time zones" in parsed.errors[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "l.csv:1: empty file"),
        ("name,city\nAnn,Paris\n", "l.csv:1: no 'number' column"),
        ("number,Number\n1,2\n", "l.csv:1: a column name appears twice"),
        ("number\n+12125550100\x00\n", "l.csv:2: NUL byte"),
    ],
)
def test_an_unusable_file_is_refused_whole(text: str, problem: str) -> None:
    with pytest.raises(ListError, match=problem.replace("(", r"\(")):
        parse_list(text, "l.csv", "US")


def test_a_row_with_too_many_values_is_refused() -> None:
    parsed = parse_list('number,name\n+12125550100,"Ann",extra\n', "l.csv", "US")
    assert parsed.errors == ["l.csv:2: more values than columns"]


def test_dnc_lists() -> None:
    numbers, errors = parse_dnc("number\n(212) 555-0100\n\nnope\n+44 20 7946 0000\n", "dnc.csv", "US")
    assert numbers == ["+12125550100", "+442079460000"]
    assert len(errors) == 1 and errors[0].startswith("dnc.csv:4: 'nope'")


DEFINITIONS = """campaigns:
  renewals:
    mode: predictive
    queue: sales
    line: sales
    windows:
      - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "21:00"}
    retries:
      busy: {delay: 600, max_attempts: 5}
    abandonment: {cap: 0.02, window: uk}
"""


def test_definitions_become_the_cores_campaigns() -> None:
    parsed = parse_definitions(DEFINITIONS, "c.yaml")
    c = to_core("renewals", parsed["renewals"])
    assert c.mode == Mode.PREDICTIVE and c.queue == "sales" and c.line == "sales"
    assert c.windows[0].start == time(9) and c.windows[0].days == frozenset(range(5))
    assert c.retry(Outcome.BUSY).delay == 600 and c.retry(Outcome.NO_ANSWER).max_attempts == 4
    assert (c.abandon_cap, c.abandon_window) == (0.02, 86400.0)
    assert to_core("renewals", parsed["renewals"]).windows == c.windows  # the stored JSON reads back


def test_answering_machines_per_campaign() -> None:
    off = to_core("renewals", parse_definitions(DEFINITIONS, "c.yaml")["renewals"])
    assert off.on_machine == OnMachine.OFF and off.message == "callcenter/outbound-no-agent"
    text = DEFINITIONS + "    amd: {on_machine: message, message: callcenter/outbound-machine}\n"
    leave = to_core("renewals", parse_definitions(text, "c.yaml")["renewals"])
    assert (leave.on_machine, leave.machine_message) == (OnMachine.MESSAGE, "callcenter/outbound-machine")
    assert leave.retry(Outcome.MACHINE) == off.retry(Outcome.MACHINE)  # the machine rule decides
    text = DEFINITIONS + "    amd: {on_machine: hangup}\n"
    hangup = to_core("renewals", parse_definitions(text, "c.yaml")["renewals"])
    assert hangup.on_machine == OnMachine.HANGUP and hangup.retry(Outcome.MACHINE).max_attempts == 0


def test_a_campaigns_dispositions() -> None:
    text = DEFINITIONS + "    dispositions: [renewed, not interested]\n"
    assert to_core("renewals", parse_definitions(text, "c.yaml")["renewals"]).dispositions == (
        "renewed",
        "not interested",
    )
    assert to_core("renewals", parse_definitions(DEFINITIONS, "c.yaml")["renewals"]).dispositions == ()


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            DEFINITIONS + "    dispositions: [renewed, renewed]\n",
            ["c.yaml:11: campaigns.renewals.dispositions: each disposition once"],
        ),
        (
            DEFINITIONS + "    amd: {on_machine: message}\n",
            ["c.yaml:11: campaigns.renewals.amd: on_machine: message needs the message to leave"],
        ),
        (
            DEFINITIONS.replace("cap: 0.02", "cap: 0.05"),
            ["c.yaml:10: campaigns.renewals.abandonment.cap: Input should be less than or equal to 0.03"],
        ),
        (
            DEFINITIONS.replace('to: "21:00"', 'to: "08:00"'),
            ["c.yaml:7: campaigns.renewals.windows.0: 'from' must be before 'to'"],
        ),
        (
            DEFINITIONS.replace("    queue: sales\n", ""),
            ["c.yaml:2: campaigns.renewals.queue: Field required"],
        ),
        (DEFINITIONS.replace("busy:", "busy_signal:"), ["c.yaml:9: campaigns.renewals.retries.busy_signal"]),
        (
            DEFINITIONS.replace("renewals:", "Bad Name:"),
            ["c.yaml:2: campaigns.Bad Name: a name is lower-case"],
        ),
        ("campaigns: [", ["invalid YAML"]),
    ],
)
def test_bad_definitions_say_where(text: str, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_definitions(text, "c.yaml")
    for problem in problems:
        assert problem in str(caught.value), str(caught.value)


def test_an_sms_stop_is_an_opt_out() -> None:
    def sms(body: str, channel: MessagingChannel = MessagingChannel.SMS) -> InboundMessage:
        return InboundMessage(
            channel, "SM1", Identity(IdentityKind.PHONE, "+12125550100"), "+15550100", body, 0.0
        )

    words = ("STOP", "UNSUBSCRIBE")
    assert stop_word(sms(" stop. "), words) == "+12125550100"
    assert stop_word(sms("Unsubscribe"), words) == "+12125550100"
    assert stop_word(sms("please don't stop calling"), words) is None
    assert stop_word(sms("STOP", MessagingChannel.WHATSAPP), words) is None


def test_a_time_zone_name_too_long_for_a_file_is_a_row_error() -> None:
    # zoneinfo looks the name up as a file: a name longer than a file name can be raises OSError.
    text = f"number,timezone\n+12125550100,America/{'x' * 300}\n+12125550101,America/New_York\n"
    parsed = parse_list(text, "leads.csv", "US", existing=set(), lookup=lambda number, email: None)
    assert [r.line for r in parsed.rows] == [3]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].startswith("leads.csv:2: unknown time zone 'America/xxx")
