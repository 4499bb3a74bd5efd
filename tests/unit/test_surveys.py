"""Post-contact surveys, the pure core and the file: which survey, answers, CSAT and NPS, low scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.core.reports.intervals import Granularity
from callcenter.core.reports.rollup import Filters
from callcenter.core.surveys.model import Question, Response, Source, Survey, Surveys, is_low, parse_answer
from callcenter.core.surveys.scores import csat, nps, survey_report
from callcenter.surveys.file import SurveyFileError, parse_surveys

T0 = 1_764_806_400  # 2025-12-04 00:00 UTC, a quarter boundary


def _survey(name: str, q: Question = Question.CSAT, **kw: object) -> Survey:
    return Survey(name, q, "text", "survey-csat", **kw)  # type: ignore[arg-type]


def test_pick_prefers_the_queue_then_the_line_then_the_default_on_its_channels() -> None:
    surveys = Surveys(
        {
            "default": _survey("default"),
            "money": _survey("money", Question.NPS, lines=frozenset({"money"})),
            "vip": _survey("vip", queues=frozenset({"vip"}), channels=frozenset({"sms"})),
        }
    )
    assert surveys.pick("vip", "money", "sms").name == "vip"  # type: ignore[union-attr]
    assert surveys.pick("vip", "money", "voice") is None  # vip's survey is not asked on voice
    assert surveys.pick("billing", "money", "voice").name == "money"  # type: ignore[union-attr]
    assert surveys.pick("support", "support", "whatsapp").name == "default"  # type: ignore[union-attr]
    assert surveys.pick(None, None, "voice").name == "default"  # type: ignore[union-attr]
    assert Surveys({"money": surveys.by_name["money"]}).pick("support", None, "voice") is None


@pytest.mark.parametrize(
    ("question", "text", "score"),
    [
        (Question.CSAT, "4", 4),
        (Question.CSAT, " 5 ", 5),
        (Question.CSAT, "4/5", 4),
        (Question.CSAT, "1.", 1),
        (Question.CSAT, "0", None),
        (Question.CSAT, "6", None),
        (Question.CSAT, "four", None),
        (Question.CSAT, "4 stars, great", None),
        (Question.CSAT, "", None),
        (Question.NPS, "0", 0),
        (Question.NPS, "10", 10),
        (Question.NPS, "10/10", 10),
        (Question.NPS, "11", None),
        (Question.NPS, "-1", None),
        (Question.NPS, "123", None),
    ],
)
def test_parse_answer(question: Question, text: str, score: int | None) -> None:
    assert parse_answer(question, text) == score


def test_csat_and_nps_arithmetic() -> None:
    assert csat([5, 4, 3, 2]) == 0.5
    assert csat([]) is None
    assert nps([10, 9, 8, 7, 6, 0]) == pytest.approx(100 * (2 - 2) / 6)
    assert nps([10, 10, 10, 6]) == 50.0
    assert nps([0]) == -100.0
    assert nps([]) is None


@given(st.lists(st.integers(0, 10), min_size=1))
def test_nps_is_promoters_minus_detractors_in_points(scores: list[int]) -> None:
    value = nps(scores)
    assert value is not None and -100.0 <= value <= 100.0
    promoters = sum(s >= 9 for s in scores) / len(scores)
    detractors = sum(s <= 6 for s in scores) / len(scores)
    assert value == pytest.approx(100 * (promoters - detractors))


def _response(n: int, q: Question, score: int | None, at: float, **kw: object) -> Response:
    r = Response(f"r{n}", f"i{n}", "s", q, Source.MESSAGE, str(kw.pop("channel", "sms")), at, **kw)  # type: ignore[arg-type]
    return r if score is None else r.answered(score, at + 60, 2 if q is Question.CSAT else 6)


def test_answered_marks_low_scores_and_refuses_off_scale_and_twice() -> None:
    asked = Response("r", "i", "s", Question.CSAT, Source.IVR, "voice", T0)
    assert asked.answered(2, T0 + 5, 2).low and not asked.answered(3, T0 + 5, 2).low
    with pytest.raises(ValueError, match="from 1 to 5"):
        asked.answered(0, T0, 2)
    with pytest.raises(ValueError, match="answered already"):
        asked.answered(4, T0, 2).answered(5, T0, 2)
    assert not is_low(6, None)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([Question.CSAT, Question.NPS]),
            st.integers(0, 10) | st.none(),
            st.integers(0, 4 * 3600 - 1),
            st.sampled_from(["a1", "a2"]),
        ),
        max_size=40,
    )
)
def test_report_rows_add_up_to_a_recomputation(
    items: list[tuple[Question, int | None, int, str]],
) -> None:
    responses = []
    for n, (q, score, offset, agent) in enumerate(items):
        if score is not None and q is Question.CSAT:
            score = max(1, min(5, score))
        responses.append(_response(n, q, score, T0 + offset, agent=agent, queue="q"))
    rows = survey_report(responses, Granularity.HOUR, by="agent")
    for row in rows:
        mine = [r for r in responses if r.agent == row.group and row.start <= r.asked_at < row.start + 3600]
        answered = [r.score for r in mine if r.score is not None]
        assert row.asked == len(mine) and row.answered == len(answered)
        assert row.csat == csat(
            [r.score for r in mine if r.score is not None and r.question is Question.CSAT]
        )
        nps_scores = [r.score for r in mine if r.score is not None and r.question is Question.NPS]
        assert row.nps == (None if not nps_scores else pytest.approx(nps(nps_scores)))
        assert row.promoters + row.passives + row.detractors == row.nps_answers
        assert row.low == sum(r.low for r in mine)
    assert sum(r.asked for r in rows) == len(responses)
    whole = survey_report(responses, Granularity.DAY, by="all")
    assert sum(r.answered for r in whole) == sum(r.score is not None for r in responses)


def test_report_filters_and_groups() -> None:
    responses = [
        _response(1, Question.CSAT, 5, T0, agent="a1", queue="support", line="support", channel="voice"),
        _response(2, Question.CSAT, 1, T0 + 10, agent="a2", queue="billing", line="money", channel="sms"),
        _response(3, Question.CSAT, None, T0 + 20, agent="a2", queue="billing", line="money", channel="sms"),
    ]
    [money] = survey_report(responses, Granularity.DAY, Filters(lines=frozenset({"money"})), by="line")
    assert (money.group, money.asked, money.answered, money.csat, money.low) == ("money", 2, 1, 0.0, 1)
    assert money.response_rate == 0.5
    by_channel = survey_report(responses, Granularity.QUARTER, by="channel")
    assert [(r.group, r.satisfied) for r in by_channel] == [("sms", 0), ("voice", 1)]
    with pytest.raises(ValueError, match="by:"):
        survey_report(responses, Granularity.DAY, by="customer")


EXAMPLE = """\
surveys:
  default:
    question: csat
    text: "How satisfied were you? Reply 1 to 5."
    prompt: survey-csat
  money:
    question: nps
    lines: [money]
    channels: [sms, whatsapp]
    text: "Would you recommend us? Reply 0 to 10."
    reply_minutes: 60
"""


def test_the_file_loads() -> None:
    by_sms = parse_surveys("surveys:\n  a:\n    question: csat\n    text: x\n    call_by: sms\n", "s.yaml")
    assert by_sms.by_name["a"].call_by == "sms", "a call's survey by SMS needs no prompt"
    surveys = parse_surveys(EXAMPLE, "s.yaml")
    money = surveys.by_name["money"]
    assert money.question is Question.NPS and money.low_score == 6 and money.reply_seconds == 3600
    assert money.lines == {"money"} and money.line == 6
    assert surveys.by_name["default"].low_score == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "surveys:\n  a:\n    question: stars\n    text: x\n",
            "s.yaml:3: surveys.a.question: Input should be 'csat' or 'nps'",
        ),
        (
            "surveys:\n  a:\n    question: csat\n    text: x\n",
            "s.yaml:2: surveys.a: a survey asked on voice needs a prompt",
        ),
        (
            "surveys:\n  a:\n    question: csat\n    text: x\n    channels: [sms]\n    low: 5\n",
            "s.yaml:6: surveys.a.low: 5: a low score is from 1 to 4 for csat",
        ),
        (
            "surveys:\n  a:\n    question: nps\n    text: x\n    channels: [sms, fax]\n",
            "s.yaml:5: surveys.a.channels.1: 'fax' is not one of",
        ),
        (
            "surveys:\n  a:\n    question: nps\n    text: x\n    channels: [sms]\n    queues: [q]\n"
            "  b:\n    question: nps\n    text: y\n    channels: [sms]\n    queues: [q]\n",
            "s.yaml:11: surveys.b.queues.0: 'q' already has the survey 'a'",
        ),
        (
            "surveys:\n  a:\n    question: nps\n    text: x\n    channels: [sms]\n"
            "  b:\n    question: nps\n    text: y\n    channels: [sms]\n",
            "s.yaml:6: surveys.b: only one survey may have no queues nor lines",
        ),
        (
            "surveys:\n  a:\n    question: nps\n    txt: x\n",
            "s.yaml:4: surveys.a.txt: Extra inputs are not permitted",
        ),
        (
            "surveys:\n  a:\n    question: nps\n    text: x\n    call_by: fax\n",
            "s.yaml:5: surveys.a.call_by: Input should be 'ivr' or 'sms'",
        ),
        ("surveys: [\n", "s.yaml:2: invalid YAML"),
    ],
)
def test_file_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SurveyFileError) as caught:
        parse_surveys(text, "s.yaml")
    assert message in str(caught.value)


def test_the_example_file_loads() -> None:
    from callcenter.surveys.file import load_surveys

    surveys = load_surveys(Path(__file__).resolve().parents[2] / "surveys.example.yaml")
    assert surveys.pick("billing", "money", "sms").name == "money"  # type: ignore[union-attr]
    assert surveys.pick("support", "support", "voice").prompt == "callcenter/survey-csat"  # type: ignore[union-attr]


def test_the_watcher_applies_a_valid_edit_and_keeps_the_surveys_on_a_bad_one(
    tmp_path: pytest.TempPathFactory,
) -> None:
    import os

    from callcenter.surveys.file import SurveysWatcher

    path = tmp_path / "surveys.yaml"
    path.write_text(EXAMPLE)
    applied: list[Surveys] = []
    watcher = SurveysWatcher(path, applied.append, 1.0)
    assert not watcher.check() and applied == []  # as loaded at start
    path.write_text(EXAMPLE.replace("reply_minutes: 60", "reply_minutes: 30"))
    os.utime(path, (1, 1))
    assert watcher.check() and applied[-1].by_name["money"].reply_seconds == 1800
    path.write_text(EXAMPLE.replace("question: nps", "question: stars"))
    assert not watcher.check() and len(applied) == 1
    assert watcher.last_error is not None and "surveys.money.question" in watcher.last_error
