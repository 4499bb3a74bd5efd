"""Typed AMI events mapped to core events: who hung up, registrations, the callback contract.

``HangupRequest`` is raised only on the side whose person hung up, before any ``Hangup``: it decides
"ended by". A ``Hangup`` with no ``HangupRequest`` before it was the system's doing. What call
control must do when a line ends (a held caller alone with music, a consult or conference leg gone)
is its business: this module only tells it (``call_ended``, ``leg_gone``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from callcenter.asterisk import ami_events, devices
from callcenter.asterisk.voice_state import AgentLeg, Tasks, VoiceState
from callcenter.core import events as ev

log = logging.getLogger("callcenter.asterisk.voice")

# A number we may dial back: digits (optionally +), or a sandbox trunk user name.
CALLBACK_NUMBER = re.compile(r"\+?[A-Za-z0-9._-]{1,32}")


class EventMapper:
    def __init__(
        self,
        state: VoiceState,
        tasks: Tasks,
        submit: Callable[[ev.Event], None],
        clock: Callable[[], float],
        hangup: Callable[[str], Coroutine[Any, Any, None]],
        hold_back: Callable[[str, str, bool], bool],
        call_ended: Callable[[str], None],
        leg_gone: Callable[[AgentLeg], None],
    ) -> None:
        """``hold_back(uniqueid, cause, system)``: True when the caller's hang-up is kept for later
        (its IVR is running); ``call_ended(interaction)``: the caller's line ended;
        ``leg_gone(leg)``: an agent's leg ended."""
        self._state = state
        self._tasks = tasks
        self._submit = submit
        self._clock = clock
        self._hangup = hangup
        self._hold_back = hold_back
        self._call_ended = call_ended
        self._leg_gone = leg_gone

    def on_event(self, event: ami_events.AmiEvent) -> None:
        legs = self._state.legs
        match event:
            case ami_events.Newchannel(uniqueid=uid, channel=name) if uid in legs:
                leg = legs[uid]
                leg.channel = name
                if leg.cancelled:
                    self._tasks.spawn(self._hangup(name))
            case ami_events.HangupRequest(uniqueid=uid):
                self.caller_gone(uid, "caller hung up")
                requested = legs.get(uid)
                if requested is not None and not requested.ended:
                    requested.ended = True
                    self._submit(ev.AgentHungUp(requested.interaction_id, requested.agent_id, self._clock()))
                    self._leg_gone(requested)
            case ami_events.Hangup(uniqueid=uid):
                self.caller_gone(uid, event.cause_txt or f"cause {event.cause}", system=True)
                ended = legs.pop(uid, None)
                if ended is not None and not ended.ended:
                    self._submit(
                        ev.AgentHungUp(ended.interaction_id, ended.agent_id, self._clock(), system=True)
                    )
                    self._leg_gone(ended)
            case ami_events.UserEvent():
                self._on_user_event(event)
            case ami_events.DtmfEnd(uniqueid=uid, digit="*", received=True) if uid in self._state.callers:
                self._callback_key(self._state.callers[uid], event.caller_number)
            case ami_events.ContactStatus(aor=aor, registered=registered, uri=uri):
                self._contact(aor, registered, uri)
            case _:
                pass

    def caller_gone(self, uniqueid: str, cause: str, system: bool = False) -> None:
        if self._hold_back(uniqueid, cause, system):
            return
        interaction_id = self._state.callers.pop(uniqueid, None)
        if interaction_id is not None:
            self._submit(ev.CallerHungUp(interaction_id, cause, self._clock(), system))
            self._call_ended(interaction_id)

    def _contact(self, aor: str, registered: bool, uri: str) -> None:
        # A phone is registered while its AOR has any contact. With remove_existing, a
        # re-registering phone's new contact may be reported before the old one's removal. The
        # agent is reachable while its desk phone or its browser is (asterisk/devices.py).
        extension = devices.extension_of(aor)
        before = devices.is_registered(self._state.contacts, extension)
        contacts = self._state.contacts.setdefault(aor, set())
        (contacts.add if registered else contacts.discard)(uri)
        self._state.contact_changes += 1
        self._state.contact_changed[aor] = self._state.contact_changes
        if devices.is_registered(self._state.contacts, extension) != before:
            cls = ev.AgentRegistered if not before else ev.AgentUnregistered
            self._submit(cls(extension, self._clock()))

    def _callback_key(self, interaction_id: str, number: str) -> None:
        # The caller waits in a holding bridge (cc-wait's BridgeWait), where the dialplan hears no
        # key: its ``*`` comes from AMI, and the engine decides whether it is a callback request.
        if not CALLBACK_NUMBER.fullmatch(number):
            log.warning(
                "voice.callback_refused",
                extra={"interaction": interaction_id, "why": "no usable caller number"},
            )
            return
        self._submit(ev.CallbackKeyPressed(interaction_id, number, self._clock()))

    def _on_user_event(self, event: ami_events.UserEvent) -> None:
        h = event.headers
        interaction_id = h.get("InteractionId", "")
        now = self._clock()
        match event.name:
            case "CCCallbackRequested":  # from a dialplan of one's own (ours takes ``*`` from AMI)
                number = h.get("Number", "")
                if not CALLBACK_NUMBER.fullmatch(number):
                    log.warning(
                        "voice.callback_refused",
                        extra={"interaction": interaction_id, "why": "no usable caller number"},
                    )
                    return
                self._submit(ev.CallbackRequested(interaction_id, number, now))
                # The dialplan hangs the caller up after the confirmation: that is their choice.
                self.caller_gone(event.uniqueid, "hung up after asking for a callback")
            case "CCCallbackConnected":
                self._submit(ev.CallbackConnected(interaction_id, h.get("AgentId", ""), now))
            case "CCCallbackFailed":
                status = h.get("Status", "") or "no answer"
                self._submit(ev.CallbackFailed(interaction_id, h.get("AgentId", ""), status.lower(), now))
