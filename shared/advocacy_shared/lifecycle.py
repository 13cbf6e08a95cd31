"""Shutdown that always finishes: each step gets a deadline, and a step that misses it is logged
and left behind rather than holding the whole process (or a test run) hostage."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


async def within(step: Awaitable[object], seconds: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, timeout=seconds)
    except TimeoutError:
        log.warning("shutdown step did not finish in time", extra={"step": what, "s": seconds})
    except Exception:
        log.exception("shutdown step failed", extra={"step": what})


def end_if_cancelled() -> None:
    """Raise `CancelledError` in a task whose cancellation was requested but never reached it.

    On Python 3.11 `asyncio.wait_for` returns normally when its task is cancelled in the loop
    iterations right after what it waits for completes, and libraries wait that way (nats-py's
    requests): the cancellation is lost, though `Task.cancelling()` still counts it. A loop that
    runs until cancelled calls this between passes (`pause`, `woken` do), so that its service's
    stop still ends it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def first_pass_in(interval: float) -> float:
    """When a periodic sweep's first pass comes: at a random point of its first interval, not
    at start. Replicas started together (a rollout, `advocacy run`) spread their sweeps instead
    of all running them at once, a starting service spends its first moments on its requests
    and events, and the first pass still comes within one interval. (211 of the suite's tests
    start a whole platform, and those first passes were an eighth of its start and stop:
    docs/backbone.md, "Round 14".)"""
    return random.uniform(0.0, interval)


async def pause(seconds: float) -> None:
    """`asyncio.sleep` between the passes of a loop that runs until cancelled (`end_if_cancelled`
    first)."""
    end_if_cancelled()
    await asyncio.sleep(seconds)


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` is set within `seconds`, for a loop that sleeps until woken or its interval
    passes; a cancellation always ends it (`end_if_cancelled` first, then `asyncio.timeout`,
    which, unlike `asyncio.wait_for` on 3.11, never loses one)."""
    end_if_cancelled()
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel(task: asyncio.Task[object] | None, seconds: float = 5.0) -> None:
    """Cancel `task` and wait up to `seconds` for it to end; a task that is still running then
    (it swallowed the cancellation, or waits on something that cannot be cancelled) is logged
    with where it waits, and left behind."""
    if task is None:
        return
    task.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=seconds)
    except TimeoutError:
        log.warning(
            "task did not end when cancelled",
            extra={"task": task.get_name(), "s": seconds, "where": " < ".join(where(task))},
        )
    except (asyncio.CancelledError, Exception):
        if not task.done():  # this coroutine itself was cancelled: pass it on
            raise


def where(task: asyncio.Task[object]) -> list[str]:
    """Where a pending task waits, outermost first: each coroutine's function, file and line."""
    places = []
    coroutine: Any = task.get_coro()
    while (frame := getattr(coroutine, "cr_frame", None)) is not None:
        places.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coroutine = coroutine.cr_await
    return places
