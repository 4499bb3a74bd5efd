"""The one business-line rule shared by the supervisor console, the APIs and the QA store."""

from __future__ import annotations

from callcenter.core.business_lines import call_line, queue_line


def test_a_queue_is_its_configured_line_else_its_name() -> None:
    assert queue_line("billing", "billing") == "billing"
    assert queue_line("vip", "sales") == "sales"
    assert queue_line("support", None) == "support"  # the README's supervisor: --lines support
    assert queue_line(None, None) is None


def test_a_call_is_its_customer_line_else_its_queue_line() -> None:
    assert call_line("support", None, {"line:mobile": 1, "billing": 2}) == "mobile"
    assert call_line("support", None, {"billing": 2}) == "support"
    assert call_line("vip", "sales", ()) == "sales"
    assert call_line(None, None, None) is None
