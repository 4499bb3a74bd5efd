"""The IVR survey after a call: the caller stays on the line when the agent hangs up.

The dialplan (``cc-wait`` in asterisk_conf/extensions.conf): when the agent hangs up, the caller
leaves the bridge and goes on after the ``BridgeWait()`` it was taken from; if the server set
``CC_SURVEY`` on the channel (the inbound session does, while a survey is asked on voice), the
dialplan runs ``AGI(agi://.../survey,<interaction>)`` (``cc-survey``; with several nodes each in
turn until one ends the session) before hanging up. Here: the survey this
call gets (none: the session ends at once, the caller is hung up) is stored as asked, its prompt
plays and the caller's keys (``GET DATA``: one key for CSAT, up to two for NPS, ``#`` ends) are
the answer; a key off the scale is asked once more. A caller who hangs up leaves the survey
asked and unanswered (it counts in ``asked``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from callcenter.asterisk.agi import AgiChannel, AgiError, AgiHangup
from callcenter.core.interaction import Interaction
from callcenter.core.surveys.model import Question, parse_answer
from callcenter.surveys.service import SurveyService

log = logging.getLogger(__name__)

ROUTE = "survey"  # agi://host:port/survey in the dialplan
VARIABLE = "CC_SURVEY"  # set on the caller's channel: the dialplan runs the survey route
# Asterisk's own sounds (asterisk-core-sounds): thanks after an answer, and a key off the scale.
THANKS = "auth-thankyou"
INVALID = "pbx-invalid"
TRIES = 2


class IvrSurvey:
    def __init__(
        self,
        surveys: Callable[[], SurveyService | None],
        interaction: Callable[[str], Awaitable[Interaction | None]],
        timeout: float,
        *,
        several_nodes: bool = False,
    ) -> None:
        """``interaction``: the call as it is now (``CallCenter.interaction``: live, or just ended).
        ``several_nodes`` (``agi.nodes``): every session ends by setting ``CC_IVR_DONE``, else the
        dialplan (``cc-survey``) tries the next node, as for the inbound session."""
        self._surveys = surveys
        self._interaction = interaction
        self._timeout = timeout
        self._several_nodes = several_nodes

    def wanted(self) -> bool:
        """Whether a call should be offered the survey route (a survey is asked on voice)."""
        service = self._surveys()
        surveys = service.surveys.by_name.values() if service is not None else ()
        return any(s.asked_on("voice") and s.call_by == "ivr" for s in surveys)

    async def __call__(self, session: AgiChannel) -> None:
        try:
            await self._survey(session)
        finally:
            if self._several_nodes:
                with contextlib.suppress(AgiError, AgiHangup):  # gone: nothing to tell
                    await session.set_variable("CC_IVR_DONE", "1")

    async def _survey(self, session: AgiChannel) -> None:
        service = self._surveys()
        interaction_id = session.headers.get("agi_arg_1", "")
        found = await self._interaction(interaction_id) if service and interaction_id else None
        asked = await service.ask_call(found) if service is not None and found is not None else None
        if service is None or asked is None:
            return
        response, survey = asked
        digits = 1 if survey.question is Question.CSAT else 2
        try:
            for _ in range(TRIES):
                answer = await session.command(
                    f"GET DATA {survey.prompt} {int(self._timeout * 1000)} {digits}",
                    timeout=self._timeout * (digits + 1) + 60,
                )
                if answer.result == "-1":
                    raise AgiHangup("GET DATA failed: the channel is gone")
                score = parse_answer(survey.question, answer.result)
                if score is not None:
                    await service.answer_call(response, survey, score)
                    await session.command(f'STREAM FILE {THANKS} ""')
                    return
                if answer.result:
                    await session.command(f'STREAM FILE {INVALID} ""')
        except (AgiHangup, AgiError) as err:
            log.info("surveys.ivr_left", extra={"interaction": interaction_id, "why": str(err)})
