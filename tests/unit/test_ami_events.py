from __future__ import annotations

from callcenter.asterisk import ami_events as ae


def test_typed_events() -> None:
    e = ae.parse(
        {
            "Event": "Hangup",
            "Channel": "PJSIP/caller-00000001",
            "Uniqueid": "1.2",
            "Linkedid": "1.2",
            "Cause": "16",
            "Cause-txt": "Normal Clearing",
        }
    )
    assert e == ae.Hangup("PJSIP/caller-00000001", "1.2", "1.2", 16, "Normal Clearing")
    c = ae.parse(
        {
            "Event": "ContactStatus",
            "AOR": "1001",
            "EndpointName": "1001",
            "ContactStatus": "Removed",
            "URI": "sip:x",
        }
    )
    assert c == ae.ContactStatus("1001", "1001", "Removed", False, uri="sip:x")
    assert ae.parse({"Event": "ContactStatus", "AOR": "1001", "ContactStatus": "NonQualified"}).registered  # type: ignore[union-attr]


def test_garbage_parses_to_none() -> None:
    for junk in (
        {},
        {"Event": "Hangup"},
        {"Event": 3},
        {"Event": "Hangup", "Channel": None},
        {"Event": "Whatever", "x": "y"},
    ):
        assert ae.parse(junk) is None
    bad_cause = ae.parse({"Event": "Hangup", "Channel": "c", "Uniqueid": "u", "Cause": "zz"})
    assert isinstance(bad_cause, ae.Hangup) and bad_cause.cause == 0


def test_hangup_request() -> None:
    e = ae.parse({"Event": "HangupRequest", "Channel": "PJSIP/1001-00000002", "Uniqueid": "abc-1"})
    assert e == ae.HangupRequest("PJSIP/1001-00000002", "abc-1")


def test_dtmf_end_is_typed_with_its_direction() -> None:
    e = ae.parse(
        {
            "Event": "DTMFEnd",
            "Channel": "PJSIP/caller-00000003",
            "Uniqueid": "1.3",
            "Digit": "*",
            "DurationMs": "240",
            "Direction": "Received",
            "CallerIDNum": "+15550100",
        }
    )
    assert e == ae.DtmfEnd("PJSIP/caller-00000003", "1.3", "*", True, "+15550100")
    sent = ae.parse({"Event": "DTMFEnd", "Channel": "c", "Uniqueid": "u", "Digit": "5", "Direction": "Sent"})
    assert isinstance(sent, ae.DtmfEnd) and not sent.received and sent.caller_number == ""
    for junk in (
        {"Event": "DTMFEnd", "Channel": "c", "Uniqueid": "u", "Digit": "", "Direction": "Received"},
        {"Event": "DTMFEnd", "Channel": "c", "Uniqueid": "u", "Digit": "**", "Direction": "Received"},
        {"Event": "DTMFEnd", "Channel": "c", "Uniqueid": "u", "Digit": "*"},
    ):
        assert ae.parse(junk) is None
