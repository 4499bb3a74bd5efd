"""The YAML flow runner, driven step by step as the adapter drives it: results in, actions out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest

from callcenter.core.ivr import flow as ivr
from callcenter.core.ivr import model as m
from callcenter.core.ivr.runner import FlowRunner, lookup
from callcenter.ivr import loader, simulate

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FLOWS = Path(__file__).parents[2] / "ivr_flows"


def flow_set(*texts: str) -> m.FlowSet:
    flows = {}
    for index, text in enumerate(texts):
        flow, problems = loader.parse_text(dedent(text), f"f{index}.yaml")
        assert problems == [] and flow is not None
        flows[flow.name] = flow
    assert loader.check(flows) == []
    return m.FlowSet(flows)


MENU = """
    flow: menu
    start: menu
    nodes:
      menu:
        type: menu
        prompt: {file: callcenter/welcome-menu}
        choices: {"1": support, "2": sales}
        timeout: 5
        attempts: 2
        invalid_prompt: {file: callcenter/invalid}
        no_input: bye
      support: {type: queue, queue: support, skills: [tech], priority: 3}
      sales: {type: queue, queue: sales}
      bye: {type: hangup, prompt: {file: callcenter/goodbye}}
"""


def test_menu_choice_queues_with_skills_priority_language_and_caller() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON, caller="+15551234")
    assert runner.start() == ivr.Answer()
    assert runner.next(ivr.Done()) == ivr.CollectDigits("callcenter/welcome-menu", 1, 5.0)
    finish = runner.next(ivr.Digits("1"))
    assert finish == ivr.Finish("1", "support", 3, ("tech",), "en", {"caller": "+15551234"}, "queue")
    with pytest.raises(ivr.FlowError):
        runner.next(ivr.Done())


def test_invalid_then_silence_uses_attempts_then_the_no_input_path() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    assert runner.next(ivr.Digits("9")) == ivr.Play("callcenter/invalid")
    assert isinstance(runner.next(ivr.Done()), ivr.CollectDigits)
    assert runner.next(ivr.Digits("")) == ivr.Play("callcenter/goodbye")
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.outcome == "hangup" and finish.queue is None
    assert [s.detail for s in runner.steps][:2] == [
        "invalid input '9' (attempt 1 of 2)",
        "no input (attempt 2 of 2)",
    ]


def test_the_old_single_digit_result_is_still_understood() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    assert runner.next(ivr.Digit("2")).queue == "sales"  # type: ignore[union-attr]


def test_wrong_result_kind_is_an_error() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    with pytest.raises(ivr.FlowError):
        runner.next(ivr.Done())


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        FlowRunner(flow_set(MENU), "menu", now=datetime(2026, 1, 1))


COLLECT = """
    flow: acct
    start: account
    nodes:
      account:
        type: collect
        prompt: "Your account number"
        variable: account
        min_digits: 4
        max_digits: 6
        pattern: "[1-9][0-9]*"
        attempts: 2
        no_input: agent
        invalid: wrong
        next: lookup
      lookup:
        type: http
        method: POST
        url: "https://crm.test/a/{account}?from={caller}"
        body: {account: "{account}"}
        timeout: 1.5
        result: {vip: customer.vip, name: customer.name, first: orders.0.id}
        next: vip
        failure: agent
      vip:
        type: branch
        cases:
          - if: {var: vip, equals: "true"}
            goto: vip_q
          - if: {var: caller, starts_with: "+34"}
            goto: spain
        else: agent
      spain: {type: set, variables: {language: es, note: "spain {account}"}, next: agent}
      vip_q: {type: queue, queue: billing, priority: 9}
      agent: {type: queue, queue: billing}
      wrong: {type: hangup}
"""


def _to_lookup(runner: FlowRunner, digits: str) -> ivr.Action:
    runner.start()
    ask = runner.next(ivr.Done())
    assert isinstance(ask, ivr.CollectDigits) and ask.max_digits == 6 and ask.text == "Your account number"
    return runner.next(ivr.Digits(digits))


def test_collect_validates_then_http_lookup_maps_the_answer() -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON, caller="+1 555")
    lookup = _to_lookup(runner, "4729#")
    assert lookup == ivr.HttpLookup(
        "POST", "https://crm.test/a/4729?from=%2B1%20555", 1.5, {}, {"account": "4729"}
    )
    body = {"customer": {"vip": True, "name": "Ana"}, "orders": [{"id": 7}]}
    finish = runner.next(ivr.HttpResult(200, body))
    assert isinstance(finish, ivr.Finish)
    assert finish.queue == "billing" and finish.priority == 9
    assert finish.data == {"caller": "+1 555", "account": "4729", "vip": "true", "name": "Ana", "first": "7"}


@pytest.mark.parametrize("answer", [ivr.HttpResult(None, None, "timeout"), ivr.HttpResult(503)])
def test_http_failure_takes_the_failure_path(answer: ivr.HttpResult) -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON, caller="+1")
    _to_lookup(runner, "4729")
    finish = runner.next(answer)
    assert isinstance(finish, ivr.Finish) and finish.priority == 0
    assert finish.data["http_error"] in ("timeout", "status 503")


def test_bad_digits_twice_take_the_invalid_path() -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON)
    assert isinstance(_to_lookup(runner, "0123"), ivr.CollectDigits)  # pattern refuses a leading 0
    finish = runner.next(ivr.Digits("12"))  # too short
    assert isinstance(finish, ivr.Finish) and finish.outcome == "hangup"


def test_branch_on_caller_number_and_set_language() -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON, caller="+34600")
    _to_lookup(runner, "5555")
    finish = runner.next(ivr.HttpResult(200, {"customer": {"vip": False}}))
    assert isinstance(finish, ivr.Finish)
    assert finish.language == "es" and finish.data["note"] == "spain 5555"


HOURS = """
    flow: hours
    start: hours
    nodes:
      hours:
        type: hours
        timezone: America/New_York
        week: {mon-fri: ["09:00-12:00", "13:00-17:00"], sun: "10:00-00:00"}
        holidays: [2026-12-25]
        open: open
        closed: closed
      open: {type: queue, queue: open}
      closed: {type: queue, queue: closed}
"""


@pytest.mark.parametrize(
    ("now", "queue"),
    [
        (datetime(2026, 11, 23, 14, 0, tzinfo=UTC), "open"),  # Monday 09:00 in New York
        (datetime(2026, 11, 23, 13, 59, tzinfo=UTC), "closed"),  # 08:59
        (datetime(2026, 11, 23, 17, 30, tzinfo=UTC), "closed"),  # lunch 12:30
        (datetime(2026, 11, 23, 21, 59, tzinfo=UTC), "open"),  # 16:59
        (datetime(2026, 11, 23, 22, 0, tzinfo=UTC), "closed"),  # 17:00: the closing minute is closed
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "closed"),  # 12:00, lunch begins
        (datetime(2026, 11, 23, 17, 59, tzinfo=UTC), "closed"),  # 12:59
        (datetime(2026, 11, 23, 18, 0, tzinfo=UTC), "open"),  # 13:00
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), "closed"),  # Saturday
        (datetime(2026, 11, 30, 4, 59, tzinfo=UTC), "open"),  # Sunday 23:59
        (datetime(2026, 12, 25, 15, 0, tzinfo=UTC), "closed"),  # a Friday, but Christmas
    ],
)
def test_business_hours_in_the_flows_time_zone(now: datetime, queue: str) -> None:
    runner = FlowRunner(flow_set(HOURS), "hours", now=now)
    runner.start()
    assert runner.next(ivr.Done()).queue == queue  # type: ignore[union-attr]


def test_goto_another_flow_and_voicemail_and_callback() -> None:
    flows = flow_set(
        """
        flow: a
        start: go
        nodes:
          go: {type: goto, flow: b}
        """,
        """
        flow: b
        start: m
        nodes:
          m:
            type: menu
            prompt: {file: x}
            choices: {"1": vm, "2": cb}
            no_input: vm
          vm: {type: voicemail, mailbox: "100@default", prompt: "Leave a message"}
          cb: {type: callback, queue: support}
        """,
    )
    runner = FlowRunner(flows, "a", now=MONDAY_NOON, caller="555")
    runner.start()
    runner.next(ivr.Done())
    assert runner.position == ("b", "m")
    assert isinstance(runner.next(ivr.Digits("1")), ivr.Play)
    # The flow greeted the caller itself, so Asterisk only beeps.
    assert runner.next(ivr.Done()) == ivr.Voicemail("100@default", greeting=False)
    assert runner.next(ivr.Done()).outcome == "voicemail"  # type: ignore[union-attr]

    runner = FlowRunner(flows, "a", now=MONDAY_NOON, caller="555")
    runner.start()
    runner.next(ivr.Done())
    finish = runner.next(ivr.Digits("2"))
    assert isinstance(finish, ivr.Finish) and finish.outcome == "callback"
    assert finish.data["callback_number"] == "555" and finish.data["callback_queue"] == "support"


def test_a_loop_that_never_asks_ends_as_an_error_not_a_hang() -> None:
    # The validator refuses this; the guard keeps a call from spinning if one got through.
    flow, problems = loader.parse_text(
        "flow: x\nstart: a\nnodes:\n  a: {type: set, variables: {n: '1'}, next: a}\n", "x.yaml"
    )
    assert flow is not None and problems == []
    runner = FlowRunner(m.FlowSet({"x": flow}), "x", now=MONDAY_NOON)
    runner.start()
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.outcome == "error"


def test_language_choice_switches_prompts() -> None:
    flows, problems = loader.load([FLOWS])
    assert problems == []
    runner = FlowRunner(flows, "main", now=MONDAY_NOON)
    runner.start()
    ask = runner.next(ivr.Done())
    assert isinstance(ask, ivr.CollectDigits) and ask.text == "For English, press 1."
    welcome = runner.next(ivr.Digits("2"))
    assert welcome == ivr.Play(welcome.prompt, "Bienvenido a Acme.")  # type: ignore[union-attr]


def test_simulation_records_where_the_caller_dropped_out() -> None:
    flows, _ = loader.load([FLOWS])
    sim = simulate.simulate(flows, "main", now=MONDAY_NOON, inputs=["1", "hangup"])
    assert sim.outcome == "caller_hangup" and sim.dropped_at == ("main", "main_menu")


def _branch(condition: str, caller: str) -> tuple[str, FlowRunner]:
    flows = flow_set(
        f"""
        flow: b
        start: pick
        nodes:
          pick:
            type: branch
            cases:
              - if: {condition}
                goto: yes_q
            else: no_q
          yes_q: {{type: queue, queue: "yes"}}
          no_q: {{type: queue, queue: "no"}}
        """
    )
    runner = FlowRunner(flows, "b", now=MONDAY_NOON, caller=caller)
    runner.start()
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.queue is not None
    return finish.queue, runner


@pytest.mark.parametrize(
    ("condition", "caller", "queue"),
    [
        ("{var: caller, equals: '+1'}", "+1", "yes"),
        ("{var: caller, equals: '+1'}", "+2", "no"),
        ("{var: caller, not_equals: '+1'}", "+2", "yes"),
        ("{var: caller, not_equals: '+1'}", "+1", "no"),
        ("{var: caller, exists: true}", "+1", "yes"),
        ("{var: caller, exists: true}", "", "no"),
        ("{var: caller, exists: false}", "", "yes"),
        ("{var: caller, exists: false}", "+1", "no"),
        ("{var: nothing, exists: true}", "+1", "no"),
        ("{var: nothing, exists: false}", "+1", "yes"),
        ("{var: caller, in: ['+1', '+2']}", "+2", "yes"),
        ("{var: caller, in: ['+1', '+2']}", "+3", "no"),
        ("{var: nothing, in: ['+1']}", "+1", "no"),
        ("{var: caller, starts_with: '+34'}", "+34600", "yes"),
        ("{var: caller, starts_with: '+34'}", "+1346", "no"),
        ("{var: nothing, starts_with: '+34'}", "+34", "no"),
        ("{var: caller, matches: '9[0-9]+'}", "912", "yes"),
        ("{var: caller, matches: '9[0-9]+'}", "9", "no"),
        ("{var: caller, matches: '9[0-9]+'}", "9123x", "no"),  # the whole value must match
        ("{var: nothing, matches: '[0-9]*'}", "+1", "yes"),  # unset reads as ""
        ("{var: nothing, matches: '.+'}", "+1", "no"),
    ],
)
def test_every_branch_condition_both_ways(condition: str, caller: str, queue: str) -> None:
    got, runner = _branch(condition, caller)
    assert got == queue
    op = condition.split(",")[1].split(":")[0].strip()
    expected = (
        f"case 1 (caller {op}) -> yes_q" if "caller" in condition else f"case 1 (nothing {op}) -> yes_q"
    )
    assert str(runner.steps[0]) == (f"b.pick: {expected}" if queue == "yes" else "b.pick: else -> no_q")


def test_collect_takes_exactly_max_digits_and_min_digits() -> None:
    for digits in ("1234", "123456"):
        runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON)
        assert isinstance(_to_lookup(runner, digits), ivr.HttpLookup), digits
        assert runner.variables["account"] == digits
    for digits in ("123", "1234567"):
        runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON)
        again = _to_lookup(runner, digits)
        assert isinstance(again, ivr.CollectDigits), digits
        assert "account" not in runner.variables
        assert str(runner.steps[-1]) == f"acct.account: invalid input {digits!r} (attempt 1 of 2)"


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (299, True), (300, False), (302, False), (199, False)]
)
def test_only_2xx_is_a_successful_lookup(status: int, ok: bool) -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON, caller="+1")
    _to_lookup(runner, "4729")
    finish = runner.next(ivr.HttpResult(status, {"customer": {"vip": True}}))
    assert isinstance(finish, ivr.Finish)
    assert (finish.priority == 9) is ok
    assert ("http_error" in finish.data) is not ok
    if not ok:
        assert finish.data["http_error"] == f"status {status}"


# --- what the runner records, step by step (shown by `callcenter ivr simulate` and flow tests) ----


def test_the_steps_of_a_lookup_flow() -> None:
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON, caller="+34600")
    runner.start()
    runner.next(ivr.Done())
    runner.next(ivr.Digits("0123"))
    runner.next(ivr.Digits("5555#"))
    body = {"customer": {"vip": False, "name": "Ana"}, "orders": [{"id": 7}]}
    finish = runner.next(ivr.HttpResult(200, body))
    assert finish == ivr.Finish(
        None,
        "billing",
        0,
        (),
        "es",
        {
            "caller": "+34600",
            "account": "5555",
            "vip": "false",
            "name": "Ana",
            "first": "7",
            "note": "spain 5555",
        },
        "queue",
    )
    assert [str(s) for s in runner.steps] == [
        "acct.account: invalid input '0123' (attempt 1 of 2)",
        "acct.account: collected account=5555",
        "acct.lookup: POST https://crm.test/a/5555?from=%2B34600",
        "acct.lookup: lookup ok: vip=false, name=Ana, first=7",
        "acct.vip: case 2 (caller starts_with) -> spain",
        "acct.spain: set language=es, note=spain 5555",
        "acct.agent: queue billing",
    ]
    assert runner.position == ("acct", "agent")


def test_the_steps_of_a_menu_that_fails_twice() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    ask = ivr.CollectDigits("callcenter/welcome-menu", 1, 5.0)
    assert runner.next(ivr.Done()) == ask
    assert runner.next(ivr.Digits("9")) == ivr.Play("callcenter/invalid")
    assert runner.next(ivr.Done()) == ask
    assert runner.next(ivr.Digits("")) == ivr.Play("callcenter/goodbye")
    finish = runner.next(ivr.Done())
    assert finish == ivr.Finish(None, None, language="en", data={"caller": ""}, outcome="hangup")
    assert runner.finished == finish
    assert [str(s) for s in runner.steps] == [
        "menu.menu: invalid input '9' (attempt 1 of 2)",
        "menu.menu: no input (attempt 2 of 2)",
        "menu.bye: hang up",
    ]


def test_the_last_invalid_menu_choice_is_kept_for_the_agent() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    runner.next(ivr.Digits("7"))
    runner.next(ivr.Done())
    runner.next(ivr.Digit("8"))  # the last attempt, as the old single-digit result
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.choice == "8" and finish.outcome == "hangup"


def test_a_retry_without_prompt_asks_again_at_once() -> None:
    flows = flow_set(
        """
        flow: r
        start: ask
        nodes:
          ask:
            type: collect
            prompt: "Number?"
            variable: n
            max_digits: 3
            attempts: 3
            timeout: 2
            no_input: out
            next: out
          out: {type: queue, queue: q}
        """
    )
    runner = FlowRunner(flows, "r", now=MONDAY_NOON)
    runner.start()
    first = runner.next(ivr.Done())
    assert isinstance(first, ivr.CollectDigits) and (first.max_digits, first.timeout) == (3, 2.0)
    assert runner.next(ivr.Digits("")) == first
    assert runner.next(ivr.Digits("")) == first
    finish = runner.next(ivr.Digits(""))
    assert isinstance(finish, ivr.Finish) and finish.queue == "q" and "n" not in finish.data
    assert [str(s) for s in runner.steps][-1] == "r.out: queue q"
    assert str(runner.steps[2]) == "r.ask: no input (attempt 3 of 3)"


def test_voicemail_without_a_prompt_and_hangups() -> None:
    flows = flow_set(
        """
        flow: v
        start: vm
        nodes:
          vm: {type: voicemail, mailbox: "200@default"}
        """
    )
    runner = FlowRunner(flows, "v", now=MONDAY_NOON, caller="555", caller_name="Ann", dialed="100")
    runner.start()
    assert runner.next(ivr.Done()) == ivr.Voicemail("200@default", greeting=True)
    finish = runner.next(ivr.Done())
    assert finish == ivr.Finish(
        None,
        None,
        language="en",
        data={"caller": "555", "caller_name": "Ann", "dialed": "100"},
        outcome="voicemail",
    )
    assert [str(s) for s in runner.steps] == ["v.vm: voicemail 200@default"]
    with pytest.raises(ivr.FlowError):
        runner.next(ivr.Done())


def test_hung_up_records_where() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    assert runner.hung_up() == ("menu", "menu")
    assert str(runner.steps[-1]) == "menu.menu: caller hung up"
    with pytest.raises(ivr.FlowError, match="finished or not started"):
        runner.next(ivr.Digits("1"))


def test_unknown_entry_flow_and_missing_targets() -> None:
    with pytest.raises(ivr.FlowError, match="no flow named 'nope'"):
        FlowRunner(flow_set(MENU), "nope", now=MONDAY_NOON)
    with pytest.raises(ivr.FlowError):
        FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON).next(ivr.Done())
    for text, why in (
        ("flow: x\nstart: a\nnodes:\n  a: {type: goto, flow: elsewhere}\n", "no flow 'elsewhere'"),
        ("flow: x\nstart: a\nnodes:\n  a: {type: set, variables: {n: '1'}, next: b}\n", "no node 'b'"),
    ):
        flow, problems = loader.parse_text(text, "x.yaml")
        assert flow is not None and problems == []
        runner = FlowRunner(m.FlowSet({"x": flow}), "x", now=MONDAY_NOON)
        runner.start()
        finish = runner.next(ivr.Done())
        assert isinstance(finish, ivr.Finish) and finish.outcome == "error"
        assert finish.data["ivr_error"] == why
        assert str(runner.steps[-1]).endswith(f"error: {why}")


def test_hours_steps_and_goto_steps() -> None:
    runner = FlowRunner(flow_set(HOURS), "hours", now=datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    runner.start()
    runner.next(ivr.Done())
    assert [str(s) for s in runner.steps] == ["hours.hours: open", "hours.open: queue open"]
    runner = FlowRunner(flow_set(HOURS), "hours", now=datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    runner.start()
    runner.next(ivr.Done())
    assert [str(s) for s in runner.steps] == ["hours.hours: closed", "hours.closed: queue closed"]


def test_lookup_paths() -> None:
    body = {"a": {"b": [10, {"c": None}, True], "d": 1.5}, "e": "x"}
    assert lookup(body, "a.b.0") == "10"
    assert lookup(body, "a.b.2") == "true"
    assert lookup(body, "a.d") == "1.5"
    assert lookup(body, "e") == "x"
    assert lookup({"f": False}, "f") == "false"
    for missing in ("a.b.3", "a.b.x", "a.b.1.c", "a.b", "a", "z", "e.f", "a.b.-1"):
        assert lookup(body, missing) is None, missing
    assert lookup([5, 6], "1") == "6"


def test_error_messages_and_a_second_wrong_result() -> None:
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        FlowRunner(flow_set(MENU), "menu", now=datetime(2026, 11, 23, 12, 0))
    runner = FlowRunner(flow_set(COLLECT), "acct", now=MONDAY_NOON)
    _to_lookup(runner, "4729")
    with pytest.raises(ivr.FlowError, match="expected an HTTP result, got Done"):
        runner.next(ivr.Done())
    with pytest.raises(ivr.FlowError, match="finished or not started"):
        runner.next(ivr.Done())
    flow, _ = loader.parse_text(
        "flow: x\nstart: a\nnodes:\n  a: {type: set, variables: {n: '1'}, next: a}\n", "x.yaml"
    )
    assert flow is not None
    looping = FlowRunner(m.FlowSet({"x": flow}), "x", now=MONDAY_NOON)
    looping.start()
    finish = looping.next(ivr.Done())
    assert isinstance(finish, ivr.Finish)
    assert finish.data["ivr_error"] == "the flow went round in a loop without asking the caller"


def test_lookup_headers_failure_step_and_callback_prompt() -> None:
    flows = flow_set(
        """
        flow: h
        start: look
        nodes:
          look:
            type: http
            url: "https://crm.test/c"
            headers: {X-Caller: "{caller}"}
            result: {name: name}
            next: cb
            failure: cb
          cb: {type: callback, queue: support, prompt: "We will call you back"}
        """
    )
    runner = FlowRunner(flows, "h", now=MONDAY_NOON, caller="555")
    runner.start()
    lookup = runner.next(ivr.Done())
    assert isinstance(lookup, ivr.HttpLookup) and lookup.headers == {"X-Caller": "555"}
    play = runner.next(ivr.HttpResult(404))
    assert isinstance(play, ivr.Play) and play.text == "We will call you back"
    assert str(runner.steps[1]) == "h.look: lookup failed: status 404 -> cb"
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.outcome == "callback"


def test_a_new_runner_is_at_the_start_and_not_finished() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    assert runner.position == ("menu", "menu")
    assert runner.finished is None
    runner.start()
    runner.next(ivr.Done())
    assert runner.finished is None
    finish = runner.next(ivr.Digits("2"))
    assert runner.finished == finish
    # A caller who hangs up before the flow even started is recorded at the start node.
    early = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    assert early.hung_up() == ("menu", "menu")
    assert [str(s) for s in early.steps] == ["menu.menu: caller hung up"]


def test_refusal_messages_are_exact() -> None:
    with pytest.raises(ValueError) as refused:
        FlowRunner(flow_set(MENU), "menu", now=datetime(2026, 11, 23, 12, 0))
    assert str(refused.value) == "now must be an aware datetime"
    with pytest.raises(ivr.FlowError) as unknown:
        FlowRunner(flow_set(MENU), "nope", now=MONDAY_NOON)
    assert str(unknown.value) == "no flow named 'nope'"
    with pytest.raises(ivr.FlowError) as not_started:
        FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON).next(ivr.Done())
    assert str(not_started.value) == "flow already finished or not started"


def test_the_steps_of_goto_play_voicemail_and_callback() -> None:
    flows = flow_set(
        """
        flow: a
        start: go
        nodes:
          go: {type: goto, flow: b}
        """,
        """
        flow: b
        start: hello
        nodes:
          hello: {type: play, prompt: "Hello", next: m}
          m:
            type: menu
            prompt: {file: x}
            choices: {"1": vm, "2": cb}
            no_input: vm
          vm: {type: voicemail, mailbox: "100@default"}
          cb: {type: callback, queue: support}
        """,
    )
    runner = FlowRunner(flows, "a", now=MONDAY_NOON, caller="555")
    runner.start()
    hello = runner.next(ivr.Done())
    assert isinstance(hello, ivr.Play) and hello.text == "Hello"
    runner.next(ivr.Done())
    runner.next(ivr.Digits("2"))
    assert [str(s) for s in runner.steps] == [
        "a.go: go to flow b",
        "b.hello: play",
        "b.m: pressed 2 -> cb",
        "b.cb: callback 555 via support",
    ]
    runner = FlowRunner(flows, "a", now=MONDAY_NOON, caller="555")
    runner.start()
    runner.next(ivr.Done())
    runner.next(ivr.Done())
    assert runner.next(ivr.Digits("1")) == ivr.Voicemail("100@default", greeting=True)
    assert [str(s) for s in runner.steps][-1] == "b.vm: voicemail 100@default"


def test_a_queue_prompt_plays_before_the_caller_is_queued() -> None:
    flows = flow_set(
        """
        flow: q
        start: in
        nodes:
          in: {type: queue, queue: support, prompt: "Please hold"}
        """
    )
    runner = FlowRunner(flows, "q", now=MONDAY_NOON)
    runner.start()
    hold = runner.next(ivr.Done())
    assert isinstance(hold, ivr.Play) and hold.text == "Please hold"
    assert runner.finished is None
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.queue == "support" and finish.outcome == "queue"


def test_a_node_the_runner_cannot_run_ends_the_flow_as_an_error() -> None:
    # The loader never lets a flow set with an unparsed node run; the guard keeps a call that
    # reached one anyway (a node type added to the model only) from crashing.
    broken = m.FlowDef("x", m.NOWHERE, m.Target("a", m.NOWHERE), {"a": m.UnparsedNode("a", m.NOWHERE)})
    runner = FlowRunner(m.FlowSet({"x": broken}), "x", now=MONDAY_NOON)
    runner.start()
    finish = runner.next(ivr.Done())
    assert isinstance(finish, ivr.Finish) and finish.outcome == "error"
    assert finish.data["ivr_error"] == "cannot run node type UnparsedNode"
    assert [str(s) for s in runner.steps] == ["x.a: error: cannot run node type UnparsedNode"]


def test_a_single_digit_timeout_is_no_input() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    assert isinstance(runner.next(ivr.Digit(None)), ivr.CollectDigits)
    assert [s.detail for s in runner.steps] == ["no input (attempt 1 of 2)"]


def test_only_a_trailing_hash_is_dropped_from_the_digits() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    # Anything else the channel reports after the choice is part of the input: not a choice.
    assert runner.next(ivr.Digits("2X")) == ivr.Play("callcenter/invalid")
    assert [s.detail for s in runner.steps] == ["invalid input '2X' (attempt 1 of 2)"]
    runner.next(ivr.Done())
    assert runner.next(ivr.Digits("2##")).queue == "sales"  # type: ignore[union-attr]


def test_a_result_of_the_wrong_kind_says_what_came() -> None:
    runner = FlowRunner(flow_set(MENU), "menu", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    with pytest.raises(ivr.FlowError) as refused:
        runner.next(ivr.Done())
    assert str(refused.value) == "expected digits, got Done()"


def test_a_prompt_missing_in_both_languages_plays_its_first_variant_or_silence() -> None:
    # The validator refuses such flows; built by hand, the call goes on instead of failing.
    def play_flow(prompt: m.Prompt) -> m.FlowSet:
        nodes: dict[str, m.Node] = {
            "p": m.PlayNode("p", m.NOWHERE, prompt, m.Target("bye", m.NOWHERE)),
            "bye": m.HangupNode("bye", m.NOWHERE),
        }
        return m.FlowSet({"x": m.FlowDef("x", m.NOWHERE, m.Target("p", m.NOWHERE), nodes)})

    french_only = m.Prompt(
        {"fr": m.PromptVariant("fr/bonjour", "Bonjour"), "de": m.PromptVariant("de/hallo")}, m.NOWHERE
    )
    for prompt, played in (
        (french_only, ivr.Play("fr/bonjour", "Bonjour")),
        (m.Prompt({}, m.NOWHERE), ivr.Play("silence/1", "")),
    ):
        runner = FlowRunner(play_flow(prompt), "x", now=MONDAY_NOON)
        runner.start()
        assert runner.next(ivr.Done()) == played
        finish = runner.next(ivr.Done())
        assert isinstance(finish, ivr.Finish) and finish.outcome == "hangup"


def _hand_built(start: str, *nodes: m.Node, language: str = "en") -> m.FlowSet:
    """A flow set built without the loader (and its validator): what the runner's guards are for."""
    flow = m.FlowDef("x", m.NOWHERE, m.Target(start, m.NOWHERE), {n.name: n for n in nodes}, language)
    return m.FlowSet({"x": flow})


def _to(node: str) -> m.Target:
    return m.Target(node, m.NOWHERE)


def test_a_language_choice_is_recorded_and_prompts_fall_back_to_the_flows_language() -> None:
    ask = m.Prompt({"en": m.PromptVariant("en/lang")}, m.NOWHERE)
    # No Spanish variant: the flow's language (en) is played, not the first variant (fr).
    hello = m.Prompt({"fr": m.PromptVariant("fr/bonjour"), "en": m.PromptVariant("en/hello")}, m.NOWHERE)
    flows = _hand_built(
        "lang",
        m.LanguageNode(
            "lang", m.NOWHERE, ask, {"1": "en", "2": "es"}, m.Retry(5.0, 1, _to("bye")), _to("hi")
        ),
        m.PlayNode("hi", m.NOWHERE, hello, _to("bye")),
        m.HangupNode("bye", m.NOWHERE),
    )
    runner = FlowRunner(flows, "x", now=MONDAY_NOON)
    runner.start()
    assert runner.next(ivr.Done()) == ivr.CollectDigits("en/lang", 1, 5.0)
    assert runner.next(ivr.Digits("2")) == ivr.Play("en/hello")
    assert runner.language == "es"
    assert [str(s) for s in runner.steps] == ["x.lang: pressed 2: language es", "x.hi: play"]


def test_in_needs_a_list_an_unset_variable_starts_with_nothing_and_unknown_operators_never_hold() -> None:
    def branch(op: str, value: str | tuple[str, ...]) -> str | None:
        case = m.Case(m.Condition("v", op, value, m.NOWHERE), _to("yes"))
        flows = _hand_built(
            "b",
            m.SetNode("b", m.NOWHERE, {"w": "abc"}, _to("c")),
            m.BranchNode("c", m.NOWHERE, (case,), _to("no")),
            m.QueueNode("yes", m.NOWHERE, "yes"),
            m.QueueNode("no", m.NOWHERE, "no"),
        )
        runner = FlowRunner(flows, "x", now=MONDAY_NOON)
        runner.start()
        finish = runner.next(ivr.Done())
        assert isinstance(finish, ivr.Finish)
        return finish.queue

    # "in" with a single string (the validator wants a list): never holds, not even for a substring.
    assert branch("in", "abc") == "no"
    assert branch("in", ("", "x")) == "no"  # v is unset: None is in no list
    assert branch("starts_with", "X") == "no"
    assert branch("starts_with", "") == "yes"
    assert branch("no_such_operator", "abc") == "no"  # an operator the runner does not know never holds


def test_a_lookup_that_finds_nothing_records_empty_values() -> None:
    flows = flow_set(
        """
        flow: h
        start: look
        nodes:
          look:
            type: http
            url: "https://crm.test/c"
            result: {name: customer.name, tier: tier}
            next: bye
            failure: bye
          bye: {type: hangup}
        """
    )
    runner = FlowRunner(flows, "h", now=MONDAY_NOON)
    runner.start()
    runner.next(ivr.Done())
    finish = runner.next(ivr.HttpResult(200, {"tier": "gold"}))
    assert isinstance(finish, ivr.Finish) and finish.data == {"caller": "", "tier": "gold"}
    assert str(runner.steps[1]) == "h.look: lookup ok: name=, tier=gold"
