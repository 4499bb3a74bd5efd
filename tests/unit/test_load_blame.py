"""bench/load_generator.blame: a failed call of the load bench is put on the server or on the load
generator from both Asterisks' AMI timestamps (one host, one clock), never just counted."""

from __future__ import annotations

from bench.load_generator import CallPlan, CallTrace, blame, detail

PLAN = CallPlan(inbound_number="5000", trunk_username="trunk", menu_wait=20, noise_ms=100)


def trace(**fields: object) -> CallTrace:
    t = CallTrace(id="load-x-1", originated=1000.0)
    for name, value in fields.items():
        setattr(t, name, value)
    return t


def test_a_menu_the_server_played_but_the_generator_did_not_hear_is_the_generators() -> None:
    t = trace(
        answered=1000.2,
        srv_channel="PJSIP/trunk-1",
        srv_menu=1000.4,
        failure="no menu heard within 20 s (TIMEOUT)",
    )
    side, why = blame(t, PLAN)
    assert side == "generator"
    assert "starved generator" in why
    assert "server menu +0.2s, heard -" in detail(t)


def test_a_menu_the_server_never_started_is_the_servers() -> None:
    t = trace(answered=1000.2, srv_channel="PJSIP/trunk-1", failure="no menu heard within 20 s (TIMEOUT)")
    assert blame(t, PLAN)[0] == "server"


def test_a_menu_started_after_the_callers_wait_is_the_servers() -> None:
    t = trace(
        answered=1000.0,
        srv_channel="PJSIP/trunk-1",
        srv_menu=1025.0,
        failure="no menu heard within 20 s (TIMEOUT)",
    )
    side, why = blame(t, PLAN)
    assert (side, "too late" in why) == ("server", True)


def test_no_agent_when_every_offer_rang_out_at_the_generators_phones_is_the_generators() -> None:
    t = trace(
        srv_channel="PJSIP/trunk-1",
        srv_menu=1000.4,
        heard=1001.0,
        pressed=1006.0,
        key_at=1006.1,
        offers=3,
        offers_unanswered=3,
        failure="no agent within 126 s",
    )
    side, why = blame(t, PLAN)
    assert side == "generator"
    assert "phones answered none" in why
    assert "agent legs 3 (3 unanswered)" in detail(t)


def test_no_agent_dialled_at_all_is_the_servers() -> None:
    t = trace(
        srv_channel="PJSIP/trunk-1",
        srv_menu=1000.4,
        heard=1001.0,
        pressed=1006.0,
        key_at=1006.1,
        failure="no agent within 126 s",
    )
    assert blame(t, PLAN)[0] == "server"


def test_a_call_cut_off_after_its_agent_is_the_servers() -> None:
    t = trace(srv_channel="PJSIP/trunk-1", bridged=1010.0, srv_hangup_cause="Normal Clearing")
    side, why = blame(t, PLAN)
    assert side == "server"
    assert "cut off" in why


def test_an_originate_the_generator_never_answered_is_the_generators() -> None:
    t = trace(failure="the generator's Asterisk did not answer the Originate within 10 s")
    assert blame(t, PLAN)[0] == "generator"


def test_a_call_cut_off_because_the_generator_stopped_answering_sip_is_the_generators() -> None:
    t = trace(srv_channel="PJSIP/trunk-1", bridged=1010.0, srv_hangup_cause="No user responding")
    assert blame(t, PLAN)[0] == "generator"
