"""Small asyncio helpers shared by the components' start/stop pairs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
C = TypeVar("C")
P = ParamSpec("P")


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """``asyncio.wait_for`` without Python 3.11's lost cancellation: there, a cancel that lands as
    the awaited thing completes is swallowed (CPython gh-86296), so a loop that handles the
    result's errors goes on running after ``stop()`` cancelled it, and ``stop()`` waits for ever.
    Raises TimeoutError past ``seconds`` (None: no limit), like ``wait_for``."""
    async with asyncio.timeout(seconds):
        return await aw


async def cancel_and_wait(*tasks: asyncio.Task[object] | asyncio.Task[None] | None) -> None:
    """Cancel the background tasks (None is skipped) and wait until each has finished."""
    for task in tasks:
        if task is not None:
            task.cancel()
    for task in tasks:
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


# How long a cancelled caller lets its unit of work finish before tearing it after all.
# Above SQLite's busy timeout, so a unit queued behind another writer still ends cleanly.
UNIT_GRACE_SECONDS = 15.0


async def finish_before_cancel(coro: Coroutine[Any, Any, T], grace: float = UNIT_GRACE_SECONDS) -> T:
    """Await ``coro`` in its own task; if the caller is cancelled meanwhile, let it end first.

    A task cancelled halfway through a SQLAlchemy transaction on aiosqlite can leave its
    connection out of the pool with the transaction open, and so SQLite's write lock held: every
    other writer of the file then fails with "database is locked". Shielded, the unit of work
    commits or rolls back and returns its connection; the caller still gets its CancelledError
    (after ``grace`` seconds at most: then the unit is cancelled after all).
    """
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            with contextlib.suppress(BaseException):  # its outcome no longer has a taker
                await asyncio.wait_for(task, grace)
        elif not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise


def cancel_safe(cls: type[C]) -> type[C]:
    """Class decorator for database stores: every public coroutine method (but ``start`` and
    ``stop``) runs through :func:`finish_before_cancel`, so cancelling its caller never tears a
    transaction in half. New methods are covered without anyone remembering to."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or name in ("start", "stop") or not inspect.iscoroutinefunction(member):
            continue
        setattr(cls, name, _finishing(member))
    return cls


def _finishing(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await finish_before_cancel(method(*args, **kwargs))

    return wrapper


class Background:
    """Tasks that nobody awaits where they start (an emit from a synchronous listener, a bot's
    turn, a conversation's close): each is kept until it ends (the loop holds tasks only weakly),
    a failure is logged as ``failed`` with its error instead of "never retrieved", and the owner's
    stop waits for them (:meth:`drain`, or :meth:`settle` with a bound)."""

    def __init__(self, logger: logging.Logger, failed: str) -> None:
        self._log = logger
        self._failed = failed
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error(self._failed, extra={"error": repr(task.exception())})

    async def drain(self) -> None:
        """Until every task has ended, those spawned meanwhile too."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self, seconds: float) -> None:
        """Let the tasks end within ``seconds``; then cancel the others and wait for them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
        await cancel_and_wait(*pending)

    async def cancel(self) -> None:
        """Cancel every task and wait until each has ended."""
        await cancel_and_wait(*self._tasks)
