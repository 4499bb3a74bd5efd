"""Agentless campaigns: what the person who answers hears, and what their answer means.

Pure. The answered call runs an :class:`~callcenter.core.ivr.flow.Flow`: the campaign's IVR flow
(the inbound flow language and engine, a :class:`~callcenter.core.ivr.runner.FlowRunner`), or,
without one, :class:`MessageFlow` (the campaign's recorded message, listening for the opt-out key
while it plays). :class:`OptOut` wraps either: the campaign's ``opt_out_key`` pressed at any
question of the flow ends it at once as an opt-out. :func:`result_of` turns the flow's end into
the attempt's disposition and whether the number goes on the do-not-call list.

A flow stores its own disposition with a ``set`` node (``disposition: confirmed``) and opts the
number out with ``opt_out: "yes"``; without a ``disposition`` variable the menu choice (or the
flow's outcome, e.g. ``no_input``) is the disposition.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.core.ivr import flow as ivr

OPT_OUT = "opt_out"
MESSAGE_PLAYED = "message_played"
#: How long the message's end waits for the opt-out key (seconds).
KEY_WAIT = 3.0
_YES = frozenset({"1", "yes", "true", "y"})


@dataclass(frozen=True, slots=True)
class AgentlessResult:
    disposition: str
    opt_out: bool


class MessageFlow:
    """The campaign's message: played once, with the opt-out key heard during it and for
    ``KEY_WAIT`` seconds after (no key: just played)."""

    def __init__(self, message: str, opt_out_key: str = "") -> None:
        self._message = message
        self._key = opt_out_key
        self._started = False

    def start(self) -> ivr.Action:
        self._started = True
        if self._key:
            return ivr.CollectDigits(self._message, 1, KEY_WAIT)
        return ivr.Play(self._message)

    def next(self, result: ivr.Result) -> ivr.Action:
        if not self._started:
            raise ivr.FlowError("flow not started")
        self._started = False
        return ivr.Finish(None, None, data={"disposition": MESSAGE_PLAYED}, outcome=MESSAGE_PLAYED)


class OptOut:
    """``inner`` with the campaign's opt-out key: pressed at any question, the flow ends there
    (``outcome`` "opt_out"), whatever the question was."""

    def __init__(self, inner: ivr.Flow, key: str) -> None:
        self.inner = inner
        self._key = key
        self.finished = False

    def start(self) -> ivr.Action:
        return self._seen(self.inner.start())

    def next(self, result: ivr.Result) -> ivr.Action:
        if self.finished:
            raise ivr.FlowError("flow already finished")
        pressed = (
            result.digit
            if isinstance(result, ivr.Digit)
            else result.digits
            if isinstance(result, ivr.Digits)
            else None
        )
        if self._key and pressed == self._key:
            self.finished = True
            return ivr.Finish(None, None, data={"disposition": OPT_OUT, OPT_OUT: "yes"}, outcome=OPT_OUT)
        return self._seen(self.inner.next(result))

    def _seen(self, action: ivr.Action) -> ivr.Action:
        self.finished = isinstance(action, ivr.Finish)
        return action


def result_of(done: ivr.Finish) -> AgentlessResult:
    """The attempt's disposition and opt-out from how its flow ended."""
    opt_out = done.outcome == OPT_OUT or done.data.get(OPT_OUT, "").strip().lower() in _YES
    if opt_out:
        return AgentlessResult(OPT_OUT, True)
    disposition = done.data.get("disposition") or done.choice or done.outcome or MESSAGE_PLAYED
    return AgentlessResult(disposition[:64], False)
