"""The file format of a recorded Asterisk session, and what never lands in it.

A recording is JSON lines: a header (``{"format": "callcenter-asterisk-session", "version": 1,
...}``), then one record per line, in the order things happened, each with ``t`` (seconds since the
start, monotonic) and ``at`` (wall-clock time), and a ``kind``:

- ``connected`` / ``disconnected``: the AMI login, or its loss;
- ``event``: a typed AMI event (``adapters/ami_events.py``);
- ``call`` (``id``, ``lane``, ``method``, ``args``) and its ``return`` (``id``, ``result`` or
  ``error``): one action on the port (lane ``ami``) or one command of a FastAGI session (lane
  ``agi<n>``), written when it is made and when it is answered;
- ``agi_start`` (``session``, ``route``, ``headers``) / ``agi_end``: a FastAGI session;
- ``id``: an interaction id minted by the voice adapter;
- ``input``: an event the engine got from elsewhere than Asterisk (the agent panel, the API...),
  so a replay gives the engine what the live one had.

Values are typed dataclasses encoded as ``{"__type__": name, field: value...}`` (sets as
``{"__set__": [...]}``). What is scrubbed, at encoding, by key: anything that looks like a secret
(secret, password, token, username...) becomes ``[REDACTED]``; identifiers (channels, uniqueids,
contexts...) are kept as they are (replay matches on them); every other text goes through
:class:`~callcenter.core.qa.redaction.Redactor`, so card digits a caller keyed into the IVR, or a
variable carrying them, are masked. A replay scrubs the calls it sees the same way before
comparing them with the recording.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from callcenter.asterisk import ami_events
from callcenter.asterisk import asterisk_port as port
from callcenter.asterisk.agi import AgiError, AgiHangup, AgiResult
from callcenter.core import events as core_events
from callcenter.core.calls import machine as calls
from callcenter.core.qa.redaction import Redactor

FORMAT = "callcenter-asterisk-session"
VERSION = 1

_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        port.Dialplan,
        port.Application,
        port.OriginateRequest,
        port.OriginateResult,
        port.Move,
        port.ChannelInfo,
        port.EndpointInfo,
        AgiResult,
        ami_events.Newchannel,
        ami_events.Hangup,
        ami_events.HangupRequest,
        ami_events.BridgeEnter,
        ami_events.BridgeLeave,
        ami_events.ContactStatus,
        ami_events.UserEvent,
        ami_events.FullyBooted,
        ami_events.Shutdown,
    )
}
# The engine's events that came from elsewhere than Asterisk (``input`` records).
_CORE_EVENTS: dict[str, type[Any]] = {
    name: cls
    for name, cls in vars(core_events).items()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == core_events.__name__
}
# ... and the agent panel's call-control requests (core/calls.py), which are engine inputs too.
_CORE_EVENTS.update({cls.__name__: cls for cls in calls.REQUESTS})
assert not _TYPES.keys() & _CORE_EVENTS.keys(), "a type name would be ambiguous in a recording"
_TYPES.update(_CORE_EVENTS)
_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        port.AmiError,
        port.AmiNotConnected,
        port.AmiAuthError,
        port.AmiTimeout,
        AgiHangup,
        AgiError,
    )
}

SECRET_KEY = re.compile(r"secret|passw|token|credential|auth|username|login|cookie", re.IGNORECASE)
# Keys whose values are names Asterisk gave (or we gave) to things: kept, replay matches on them.
IDENTIFIERS = frozenset(
    {
        "channel",
        "extrachannel",
        "uniqueid",
        "linkedid",
        "channel_id",
        "channelid",
        "bridge_id",
        "bridgeuniqueid",
        "endpoint",
        "aor",
        "uri",
        "contacts",
        "context",
        "extracontext",
        "exten",
        "extraexten",
        "action",
        "event",
        "response",
        "status",
        "state",
        "application",
        "name",
        "route",
        "code",
        "priority",
        "interactionid",
        "interaction_id",
        "agent_id",
        "conversation_id",
        "customer_id",
        "extension",
        "caller_channel",
        "queue",
        "timestamp",
        "agi_channel",
        "agi_uniqueid",
        "agi_linkedid",
        "agi_network_script",
        "agi_request",
        "agi_context",
        "agi_type",
        "agi_threadid",
        "agi_version",
        "agi_language",
    }
)
_REDACTOR = Redactor()
REDACTED = "[REDACTED]"


def scrub(key: str, text: str) -> str:
    lowered = key.lower()
    if SECRET_KEY.search(lowered):
        return REDACTED
    if lowered in IDENTIFIERS:
        return text
    return _REDACTOR.redact(text).text


def encode(value: object, key: str = "") -> Any:
    """A value as JSON, scrubbed by its key (see the module's header)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"__type__": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name), f.name)
        return out
    if isinstance(value, (set, frozenset)):
        return {"__set__": sorted(encode(v, key) for v in value)}
    if isinstance(value, Mapping):
        return {str(k): encode(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, key) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(key, str(value))


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__type__" in value:
            cls = _TYPES.get(str(value["__type__"]))
            if cls is None:
                raise ValueError(f"unknown type {value['__type__']!r}")
            # Sequences inside our frozen dataclasses are tuples.
            fields = {k: _tuples(decode(v)) for k, v in value.items() if k != "__type__"}
            return cls(**fields)
        if "__set__" in value:
            return frozenset(decode(v) for v in value["__set__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def encode_error(err: BaseException) -> dict[str, str]:
    return {"type": type(err).__name__, "message": scrub("message", str(err))}


def decode_error(data: Mapping[str, Any]) -> Exception:
    cls = _ERRORS.get(str(data.get("type", "")), port.AmiError)
    return cls(str(data.get("message", "")))
