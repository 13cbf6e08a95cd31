from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Wait until `check` holds; fail the test with a clear message when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def stream_messages(js: JetStreamContext, stream: str) -> int:
    try:
        return int((await js.stream_info(stream)).state.messages)
    except NotFoundError:
        return 0


async def read_all(js: JetStreamContext, stream: str, subject: str) -> list[Msg]:
    """Every message of a stream on a subject, through an ephemeral consumer."""
    count = await stream_messages(js, stream)
    if count == 0:
        return []
    subscription = await js.pull_subscribe(subject, stream=stream)
    messages = await subscription.fetch(count, timeout=5)
    for message in messages:
        await message.ack()
    await subscription.unsubscribe()
    return messages
