"""Which channels reconcile hangs up as leftovers (issue 13 #11): the selection, on the channel list
as CoreShowChannels gives it; the real leftover on the sandbox: tests/e2e/test_leftover_channels.py."""

from __future__ import annotations

from callcenter.asterisk.ami import parse_channels, parse_holding_bridges
from callcenter.asterisk.asterisk_port import ChannelInfo
from callcenter.asterisk.voice_reconcile import leftovers
from callcenter.asterisk.voice_state import AgentLeg, VoiceState


def test_coreshowchannel_duration_and_bridge_are_read() -> None:
    (info,) = parse_channels(
        [
            {
                "Event": "CoreShowChannel",
                "Channel": "PJSIP/caller-1",
                "Uniqueid": "u1",
                "Duration": "01:02:03",
            },
            {"Event": "CoreShowChannelsComplete"},
        ]
    )
    assert info.duration == 3723.0 and info.bridge_id == ""
    (odd,) = parse_channels([{"Event": "CoreShowChannel", "Channel": "X", "Uniqueid": "u", "Duration": "?"}])
    assert odd.duration == 0.0


def test_only_old_lonely_channels_that_are_not_ours_are_leftovers() -> None:
    state = VoiceState(callers={"c-ours": "i1"}, legs={"i2-1": AgentLeg("i2", "1001")})
    channels = [
        ChannelInfo("Surrogate/PJSIP/caller-0001", "s1", context="cc-wait", duration=300),
        ChannelInfo("Surrogate/PJSIP/caller-0002", "s2", context="cc-wait", duration=300, bridge_id="b1"),
        ChannelInfo("Surrogate/PJSIP/caller-0003", "s3", context="cc-wait", duration=5),
        ChannelInfo("PJSIP/caller-0004", "stray", context="cc-wait", duration=300),
        ChannelInfo("PJSIP/caller-0005", "c-ours", context="cc-wait", duration=300),
        ChannelInfo("PJSIP/1001-0006", "i2-1", context="cc-held", duration=300),
        ChannelInfo("PJSIP/1002-0007", "i1-cb1", context="cc-held", duration=300),  # a leg of ours
        ChannelInfo("PJSIP/caller-0008", "ivr", context="from-trunk", duration=300),
        ChannelInfo("PJSIP/caller-0009", "stray2", context="cc-hold", duration=300),
    ]
    found = [c.channel for c in leftovers(channels, state, older_than=120)]
    assert found == ["Surrogate/PJSIP/caller-0001", "PJSIP/caller-0004", "PJSIP/caller-0009"]


def test_a_waiting_channel_in_a_holding_bridge_is_a_leftover_but_not_one_in_a_conversation() -> None:
    # Since cc-wait and cc-hold wait in BridgeWait, a stray caller there is in a (holding) bridge.
    state = VoiceState(callers={"c-ours": "i1"})
    channels = [
        ChannelInfo("PJSIP/caller-1", "stray", context="cc-wait", duration=300, bridge_id="h1", holding=True),
        ChannelInfo("PJSIP/caller-2", "talking", context="cc-wait", duration=300, bridge_id="b1"),
        ChannelInfo(
            "PJSIP/caller-3", "c-ours", context="cc-wait", duration=300, bridge_id="h2", holding=True
        ),
        ChannelInfo(
            "PJSIP/caller-4", "stray2", context="cc-hold", duration=300, bridge_id="h3", holding=True
        ),
        ChannelInfo("PJSIP/caller-5", "young", context="cc-wait", duration=5, bridge_id="h4", holding=True),
    ]
    found = [c.channel for c in leftovers(channels, state, older_than=120)]
    assert found == ["PJSIP/caller-1", "PJSIP/caller-4"]


def test_bridgelist_names_the_holding_bridges() -> None:
    answer = [
        {"Response": "Success", "EventList": "start"},
        {
            "Event": "BridgeListItem",
            "BridgeUniqueid": "h1",
            "BridgeType": "base",
            "BridgeTechnology": "holding_bridge",
        },
        {
            "Event": "BridgeListItem",
            "BridgeUniqueid": "b1",
            "BridgeType": "basic",
            "BridgeTechnology": "simple_bridge",
        },
        {"Event": "BridgeListItem", "BridgeUniqueid": "b2", "BridgeTechnology": "native_rtp"},
        {"Event": "BridgeListComplete", "ListItems": "3"},
    ]
    assert parse_holding_bridges(answer) == frozenset({"h1"})
    assert parse_holding_bridges({"Response": "Error"}) == frozenset()
