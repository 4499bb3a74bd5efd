"""The IVR survey's session (callcenter/surveys/ivr.py) against a fake FastAGI channel and a fake
store: which calls are asked, a key off the scale asked again, NPS's two keys, a hang-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.asterisk.agi import AgiHangup, AgiResult
from callcenter.core.interaction import Channel, Interaction
from callcenter.core.surveys.model import Question, Response, Survey, Surveys
from callcenter.surveys.ivr import IvrSurvey
from callcenter.surveys.service import SurveyService

CALL = Interaction("i1", Channel.VOICE, "+1555", 100.0, queue="support", agent_id="1001", answered_at=110.0)


@dataclass
class FakeStore:
    asked: list[Response] = field(default_factory=list)
    answered: list[Response] = field(default_factory=list)

    async def ask(self, response: Response, low_score: int, **_: Any) -> bool:
        if any(r.interaction_id == response.interaction_id for r in self.asked):
            return False
        self.asked.append(response)
        return True

    async def answer(self, response: Response) -> bool:
        self.answered.append(response)
        return True


@dataclass
class FakeSession:
    keys: list[str | None]  # what each GET DATA returns; None: the caller hangs up
    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> Mapping[str, str]:
        return {"agi_arg_1": "i1"}

    @property
    def channel(self) -> str:
        return "PJSIP/trunk-1"

    @property
    def uniqueid(self) -> str:
        return "1.1"

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        self.commands.append(line)
        if line.startswith("GET DATA"):
            key = self.keys.pop(0)
            if key is None:
                raise AgiHangup("gone")
            return AgiResult(200, key, "")
        return AgiResult(200, "0", "")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


def _run(
    question: Question, keys: list[str | None], call: Interaction = CALL, *, several_nodes: bool = False
) -> tuple[FakeStore, FakeSession]:
    import asyncio

    store = FakeStore()
    survey = Survey("s", question, "text", "callcenter/survey-x", channels=frozenset({"voice"}))
    service = SurveyService(store, lambda: 200.0, surveys=Surveys({"s": survey}))  # type: ignore[arg-type]

    async def lookup(_: str) -> Interaction | None:
        return call

    session = FakeSession(keys)
    ivr = IvrSurvey(lambda: service, lookup, 5.0, several_nodes=several_nodes)
    assert ivr.wanted()
    asyncio.run(ivr(session))  # type: ignore[arg-type]
    return store, session


def test_a_key_off_the_scale_is_asked_again_then_the_answer_is_stored() -> None:
    store, session = _run(Question.CSAT, ["9", "4"])
    assert [r.score for r in store.answered] == [4] and not store.answered[0].low
    assert session.commands == [
        "GET DATA callcenter/survey-x 5000 1",
        'STREAM FILE pbx-invalid ""',
        "GET DATA callcenter/survey-x 5000 1",
        'STREAM FILE auth-thankyou ""',
    ]


def test_nps_takes_two_keys_and_silence_twice_leaves_it_unanswered() -> None:
    store, session = _run(Question.NPS, ["10"])
    assert session.commands[0] == "GET DATA callcenter/survey-x 5000 2" and store.answered[0].score == 10
    store, session = _run(Question.NPS, ["", ""])
    assert len(store.asked) == 1 and store.answered == []
    assert [c for c in session.commands if c.startswith("STREAM")] == []


def test_a_hang_up_leaves_the_survey_asked_and_a_call_nobody_answered_is_not_asked() -> None:
    store, _ = _run(Question.CSAT, [None])
    assert len(store.asked) == 1 and store.answered == []
    unanswered = Interaction("i1", Channel.VOICE, "+1555", 100.0, queue="support")
    store, session = _run(Question.CSAT, [], unanswered)
    assert store.asked == [] and session.commands == []


def test_a_call_transferred_to_a_colleague_is_surveyed_about_the_last_agent_not_one_sent_to_a_number() -> (
    None
):
    import dataclasses

    moved = dataclasses.replace(CALL, agent_id="1002", transferred_to="agent:1002")
    store, _ = _run(Question.CSAT, ["5"], moved)
    assert [(r.agent, r.score) for r in store.answered] == [("1002", 5)]
    out = dataclasses.replace(CALL, transferred_to="number:+15550100")
    store, session = _run(Question.CSAT, [], out)
    assert store.asked == [] and session.commands == []


def test_with_several_nodes_every_session_tells_the_dialplan_it_ended_here() -> None:
    _, session = _run(Question.CSAT, ["4"], several_nodes=True)
    assert session.variables == {"CC_IVR_DONE": "1"}
    unanswered = Interaction("i1", Channel.VOICE, "+1555", 100.0, queue="support")
    _, session = _run(Question.CSAT, [], unanswered, several_nodes=True)
    assert session.variables == {"CC_IVR_DONE": "1"}, "no survey for this call: still ended here"
    _, session = _run(Question.CSAT, ["4"])
    assert session.variables == {}, "one node: nothing to tell"
