"""The AMI adapter's translation between the typed port and raw AMI messages (pure functions);
tests/integration/test_sandbox.py and tests/e2e/ run the same port against the real Asterisk."""

from __future__ import annotations

from callcenter.asterisk.ami import (
    STOPPING_FOR,
    asterisk_instance,
    originate_fields,
    originate_result,
    parse_channels,
    parse_endpoints,
    redirect_fields,
    still_stopping,
)
from callcenter.asterisk.asterisk_port import (
    Application,
    ChannelInfo,
    Dialplan,
    EndpointInfo,
    Move,
    OriginateRequest,
    OriginateResult,
)


def test_an_agent_leg_originate_carries_its_channel_id_and_variables_in_order() -> None:
    fields = originate_fields(
        OriginateRequest(
            "PJSIP/1001",
            Dialplan("cc-agent", "bridge"),
            ring_timeout=8.5,
            channel_id="i1-1",
            caller_id="<+34600>",
            variables={"CC_INTERACTION_ID": "i1", "CC_CALLER_CHANNEL": "PJSIP/trunk-1"},
        )
    )
    assert fields == {
        "Action": "Originate",
        "Channel": "PJSIP/1001",
        "Async": "true",
        "Timeout": "8500",
        "Context": "cc-agent",
        "Exten": "bridge",
        "Priority": "1",
        "ChannelId": "i1-1",
        "CallerID": "<+34600>",
        "Variable": ["CC_INTERACTION_ID=i1", "CC_CALLER_CHANNEL=PJSIP/trunk-1"],
    }


def test_an_application_originate_has_no_dialplan_target() -> None:
    fields = originate_fields(
        OriginateRequest("PJSIP/1009", Application("ChanSpy", "PJSIP/1001-01,qE"), ring_timeout=30)
    )
    assert fields["Application"] == "ChanSpy" and fields["Data"] == "PJSIP/1001-01,qE"
    assert not {"Context", "Exten", "ChannelId", "Variable", "CallerID"} & set(fields)


def test_originate_outcomes_in_words() -> None:
    queued = {"Response": "Success", "Message": "Originate successfully queued"}

    def final(response: str, reason: str) -> list[dict[str, str]]:
        return [queued, {"Event": "OriginateResponse", "Response": response, "Reason": reason}]

    answered = originate_result(final("Success", "4"))
    assert answered == OriginateResult("answered", code="4") and answered.answered
    no_answer = originate_result(final("Failure", "3"))
    assert no_answer == OriginateResult("failed", "ring no answer", "3") and not no_answer.answered
    odd = originate_result(final("Failure", "77"))
    assert odd.reason == "dial failed (reason 77)"
    assert originate_result([]).status == "failed"


def test_a_redirect_moves_one_or_two_channels() -> None:
    one = redirect_fields(Move("PJSIP/1001-02", Dialplan("cc-agent", "resume")))
    assert one == {
        "Action": "Redirect",
        "Channel": "PJSIP/1001-02",
        "Context": "cc-agent",
        "Exten": "resume",
        "Priority": "1",
    }
    caller, agent = Move("PJSIP/trunk-01", Dialplan("cc-hold")), Move("PJSIP/1001-02", Dialplan("cc-held"))
    two = redirect_fields(caller, agent)
    assert (two["Context"], two["ExtraChannel"], two["ExtraContext"], two["ExtraExten"]) == (
        "cc-hold",
        "PJSIP/1001-02",
        "cc-held",
        "s",
    )


def test_channel_and_endpoint_lists_are_typed_and_garbage_is_dropped() -> None:
    channels = [
        {"Response": "Success", "EventList": "start"},
        {
            "Event": "CoreShowChannel",
            "Channel": "PJSIP/trunk-01",
            "Uniqueid": "17.1",
            "Context": "cc-hold",
            "Exten": "s",
            "Linkedid": "17.1",
            "ChannelStateDesc": "Up",
            "Application": "MusicOnHold",
        },
        {"Event": "CoreShowChannel", "Channel": "PJSIP/x-02"},  # no uniqueid: not a channel we can use
        "garbage",
        {"Event": "CoreShowChannelsComplete"},
    ]
    assert parse_channels(channels) == [
        ChannelInfo("PJSIP/trunk-01", "17.1", "cc-hold", "s", "17.1", "Up", "MusicOnHold")
    ]
    assert parse_channels({"Response": "Error"}) == []
    endpoints = [
        {"Event": "EndpointList", "ObjectName": "1001", "Contacts": "1001/sip:1001@127.0.0.1:5070,"},
        {"Event": "EndpointList", "ObjectName": "1002", "Contacts": ""},
        {"Event": "EndpointListComplete"},
    ]
    found = parse_endpoints(endpoints)
    assert found == [EndpointInfo("1001", frozenset({"sip:1001@127.0.0.1:5070"})), EndpointInfo("1002")]
    assert [e.registered for e in found] == [True, False]


def test_core_status_tells_which_asterisk_process_answered() -> None:
    answer = {
        "Response": "Success",
        "CoreStartupDate": "2026-12-03",
        "CoreStartupTime": "09:04:19",
        "CoreReloadTime": "09:04:19",
        "CoreCurrentCalls": "0",
    }
    assert asterisk_instance(answer) == "2026-12-03 09:04:19"
    assert asterisk_instance({"Response": "Success"}) is None
    assert asterisk_instance([answer]) is None  # not a single response: unknown, never a match


def test_a_login_to_the_asterisk_that_announced_its_shutdown_is_not_a_reconnect() -> None:
    old, new = "2026-12-03 09:04:19", "2026-12-03 09:04:24"
    assert still_stopping((old, 100.0), old, 103.5)
    assert not still_stopping((old, 100.0), new, 103.5)
    assert not still_stopping(None, old, 103.5)
    assert not still_stopping((old, 100.0), None, 103.5)
    # Bounded: a new Asterisk started within the same second as the old one is not refused forever.
    assert not still_stopping((old, 100.0), old, 100.0 + STOPPING_FOR)
