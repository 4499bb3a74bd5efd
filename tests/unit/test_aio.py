"""The asyncio helpers: a unit of work finishes before its caller's cancellation goes on."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

from callcenter.aio import Background, cancel_safe, finish_before_cancel, within


async def test_a_cancelled_caller_waits_for_its_unit_to_end_then_is_cancelled() -> None:
    steps: list[str] = []
    release = asyncio.Event()

    async def unit() -> str:
        steps.append("begin")
        await release.wait()
        steps.append("commit")
        return "done"

    caller = asyncio.create_task(finish_before_cancel(unit()))
    await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.sleep(0.01)
    assert not caller.done()  # still waiting for the unit, not torn
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["begin", "commit"]


async def test_a_unit_that_outlasts_the_grace_is_cancelled_after_all() -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    caller = asyncio.create_task(finish_before_cancel(stuck(), grace=0.05))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert cancelled.is_set()


async def test_results_and_errors_pass_through() -> None:
    @cancel_safe
    class Store:
        async def value(self, x: int) -> int:
            return x * 2

        async def broken(self) -> None:
            raise ValueError("no")

        async def stop(self) -> str:
            return "stop is left alone"

    store = Store()
    assert await store.value(21) == 42
    with pytest.raises(ValueError, match="no"):
        await store.broken()
    assert Store.value.__name__ == "value" and Store.value.__wrapped__  # type: ignore[attr-defined]
    assert not hasattr(Store.stop, "__wrapped__")


async def test_within_never_swallows_a_cancel_that_lands_as_the_result_does() -> None:
    """Python 3.11's wait_for returns (or raises) the result when a cancel and the result arrive
    together: a loop that handles the error then runs on after stop() cancelled it (the AMI
    client's reconnect loop hung three server shutdowns in a CI run that way)."""
    connecting: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def reconnect_loop() -> None:
        while True:
            try:
                await within(connecting, 10)
            except OSError:
                pass  # unreachable: try again after a pause
            await asyncio.sleep(3600)

    task = asyncio.create_task(reconnect_loop())
    await asyncio.sleep(0)
    connecting.set_exception(ConnectionRefusedError())
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()


def test_the_database_stores_are_cancel_safe() -> None:
    """Each store's public coroutine methods run through finish_before_cancel (the decorator once
    slid onto a dataclass put in front of the messaging store, and left the store without it)."""
    from callcenter.storage import (
        accounts_store,
        messaging_store,
        outbound_store,
        report_runs_store,
        reports_store,
        schedule_store,
        surveys_store,
        ticket_access_store,
        tickets_store,
        transcription_jobs,
    )

    stores = [
        accounts_store.AccountStore,
        messaging_store.MessagingStore,
        outbound_store.OutboundStore,
        report_runs_store.ReportRunsStore,
        reports_store.ReportsStore,
        schedule_store.ScheduleStore,
        surveys_store.SurveyStore,
        ticket_access_store.TicketAccessStore,
        tickets_store.TicketsStore,
        transcription_jobs.JobStore,
    ]
    for store in stores:
        methods = [
            name
            for name, member in vars(store).items()
            if not name.startswith("_") and name not in ("start", "stop") and callable(member)
        ]
        unwrapped = [name for name in methods if inspect.iscoroutinefunction(getattr(store, name))
                     and not hasattr(getattr(store, name), "__wrapped__")]  # fmt: skip
        assert methods and not unwrapped, (store.__name__, unwrapped)


async def test_background_tasks_are_kept_logged_when_they_fail_and_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Background(logging.getLogger("test.background"), "test.work_failed")
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def later() -> None:
        await asyncio.sleep(0.01)
        done.append("later")

    async def spawns() -> None:
        await asyncio.sleep(0)
        tasks.spawn(later())  # started while drain() waits: waited for too

    with caplog.at_level(logging.ERROR, logger="test.background"):
        tasks.spawn(fails())
        tasks.spawn(spawns())
        assert len(tasks) == 2
        await tasks.drain()
    assert done == ["later"] and len(tasks) == 0
    failures = [r for r in caplog.records if r.getMessage() == "test.work_failed"]
    assert len(failures) == 1 and "boom" in failures[0].__dict__["error"]


async def test_settle_lets_quick_tasks_end_and_cancels_the_rest() -> None:
    tasks = Background(logging.getLogger("test.background"), "test.work_failed")
    quick_done = asyncio.Event()

    async def quick() -> None:
        quick_done.set()

    async def stuck() -> None:
        await asyncio.Event().wait()

    q, s = tasks.spawn(quick()), tasks.spawn(stuck())
    await tasks.settle(0.05)
    assert quick_done.is_set() and q.done() and not q.cancelled()
    assert s.cancelled() and len(tasks) == 0
