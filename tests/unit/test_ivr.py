from __future__ import annotations

import pytest

from callcenter.core.ivr import flow as ivr


def flow(**kw: object) -> ivr.MenuFlow:
    return ivr.MenuFlow(ivr.MenuConfig(choices={"1": "support", "2": "sales"}, prompt="menu", **kw))  # type: ignore[arg-type]


def test_valid_choice_goes_to_queue() -> None:
    f = flow()
    assert f.start() == ivr.Answer()
    assert f.next(ivr.Done()) == ivr.GetDigit("menu", 6.0)
    assert f.next(ivr.Digit("2")) == ivr.Finish(choice="2", queue="sales")


def test_invalid_then_valid() -> None:
    f = flow()
    f.start()
    f.next(ivr.Done())
    assert f.next(ivr.Digit("7")) == ivr.Play("callcenter/invalid")
    assert f.next(ivr.Done()) == ivr.GetDigit("menu", 6.0)
    assert f.next(ivr.Digit("1")).queue == "support"  # type: ignore[union-attr]


def test_no_input_twice_says_goodbye_and_ends() -> None:
    f = flow(attempts=2)
    f.start()
    f.next(ivr.Done())
    assert f.next(ivr.Digit(None)) == ivr.GetDigit("menu", 6.0)
    assert f.next(ivr.Digit(None)) == ivr.Play("callcenter/goodbye")
    assert f.next(ivr.Done()) == ivr.Finish(choice=None, queue=None)
    with pytest.raises(ivr.FlowError):
        f.next(ivr.Done())


def test_wrong_result_kind_is_an_error() -> None:
    f = flow()
    f.start()
    f.next(ivr.Done())
    with pytest.raises(ivr.FlowError):
        f.next(ivr.Done())
