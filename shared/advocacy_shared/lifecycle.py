"""Shutdown that always finishes: each step gets a deadline, and a step that misses it is logged
and left behind rather than holding the whole process (or a test run) hostage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)


async def within(step: Awaitable[object], seconds: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, timeout=seconds)
    except TimeoutError:
        log.warning("shutdown step did not finish in time", extra={"step": what, "s": seconds})
    except Exception:
        log.exception("shutdown step failed", extra={"step": what})


async def cancel(task: asyncio.Task[object] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=5.0)
