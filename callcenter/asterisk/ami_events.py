"""Typed AMI events: raw AMI messages are parsed here, once, at the edge.

Only the events the server uses are typed; anything else parses to ``None`` and is ignored. A message
with missing or malformed fields also parses to ``None`` (garbage never raises past this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Newchannel:
    channel: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str
    uniqueid: str
    linkedid: str
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class HangupRequest:
    """The far end of this channel asked to hang up (e.g. a SIP BYE from that phone).

    Raised before ``Hangup``, and only on the side that hung up: the other side of a bridge gets a
    ``SoftHangupRequest`` instead. This is how we know who ended a call; the order of the two
    ``Hangup`` events that follow is not reliable.
    """

    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class BridgeEnter:
    bridge_id: str
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class BridgeLeave:
    bridge_id: str
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class ContactStatus:
    """A phone's registration changed. ``registered`` folds Asterisk's statuses into yes/no."""

    endpoint: str
    aor: str
    status: str
    registered: bool
    uri: str = ""  # the contact; an AOR may have several (a new one replaces the old)


@dataclass(frozen=True, slots=True)
class UserEvent:
    """A ``UserEvent()`` from our dialplan (``CC*`` names): the callback contract."""

    name: str
    uniqueid: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DtmfEnd:
    """A key pressed on a channel ended (``DTMFEnd``), RFC 4733 or in-band alike. ``received``: it
    came from the channel's far end (the caller's phone), not sent to it. This is how the server
    hears keys of a caller waiting in a holding bridge, where the dialplan hears none."""

    channel: str
    uniqueid: str
    digit: str
    received: bool
    caller_number: str = ""


@dataclass(frozen=True, slots=True)
class FullyBooted:
    pass


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


AmiEvent = (
    Newchannel
    | Hangup
    | HangupRequest
    | UserEvent
    | DtmfEnd
    | BridgeEnter
    | BridgeLeave
    | ContactStatus
    | FullyBooted
    | Shutdown
)

# Asterisk's ContactStatus values: a contact that exists (whatever its qualify state) is registered.
_REGISTERED_STATUSES = {"created", "reachable", "unknown", "nonqualified", "unqualified", "updated"}


def _get(message: Mapping[str, object], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise KeyError(key)
    return value


def parse(message: Mapping[str, object]) -> AmiEvent | None:
    """Turn one raw AMI message (case-insensitive mapping) into a typed event, or ``None``."""
    try:
        name = _get(message, "Event")
        match name:
            case "Newchannel":
                return Newchannel(
                    channel=_get(message, "Channel"),
                    uniqueid=_get(message, "Uniqueid"),
                    linkedid=str(message.get("Linkedid", "")),
                    context=str(message.get("Context", "")),
                    exten=str(message.get("Exten", "")),
                )
            case "Hangup":
                try:
                    cause = int(str(message.get("Cause", "0")))
                except ValueError:
                    cause = 0
                return Hangup(
                    channel=_get(message, "Channel"),
                    uniqueid=_get(message, "Uniqueid"),
                    linkedid=str(message.get("Linkedid", "")),
                    cause=cause,
                    cause_txt=str(message.get("Cause-txt", "")),
                )
            case "HangupRequest":
                return HangupRequest(channel=_get(message, "Channel"), uniqueid=_get(message, "Uniqueid"))
            case "BridgeEnter" | "BridgeLeave":
                cls = BridgeEnter if name == "BridgeEnter" else BridgeLeave
                return cls(
                    bridge_id=_get(message, "BridgeUniqueid"),
                    channel=_get(message, "Channel"),
                    uniqueid=_get(message, "Uniqueid"),
                )
            case "ContactStatus":
                status = _get(message, "ContactStatus")
                return ContactStatus(
                    endpoint=str(message.get("EndpointName", "")),
                    aor=_get(message, "AOR"),
                    status=status,
                    uri=str(message.get("URI", "")),
                    registered=status.lower() in _REGISTERED_STATUSES,
                )
            case "UserEvent":
                name = _get(message, "UserEvent")
                if not name.startswith("CC"):
                    return None
                headers = {str(k): str(v) for k, v in message.items() if isinstance(v, str)}
                return UserEvent(name=name, uniqueid=str(message.get("Uniqueid", "")), headers=headers)
            case "DTMFEnd":
                return _dtmf_end(message)
            case "FullyBooted":
                return FullyBooted()
            case "Shutdown":
                return Shutdown()
    except KeyError:
        return None
    return None


def _dtmf_end(message: Mapping[str, object]) -> DtmfEnd | None:
    digit = _get(message, "Digit")
    if len(digit) != 1:
        return None
    return DtmfEnd(
        channel=_get(message, "Channel"),
        uniqueid=_get(message, "Uniqueid"),
        digit=digit,
        received=_get(message, "Direction").lower() == "received",
        caller_number=str(message.get("CallerIDNum", "")),
    )


# Originate failure reasons (the Reason header of OriginateResponse), in words for logs and records.
ORIGINATE_REASONS = {
    "0": "dial failed (no such endpoint, or not registered)",
    "1": "hung up before answer",
    "3": "ring no answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion or unavailable",
}
