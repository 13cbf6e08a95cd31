from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import inspect, text

from advocacy_shared.rpc import RpcServer
from advocacy_shared.topology import Topology


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


def polls(timeout: float = 30.0) -> Iterator[int]:
    """The rounds of a polling loop, until `timeout` seconds have passed: a deadline in time, not
    a number of rounds, whose worth would shrink as a loaded machine slows each round down."""
    deadline = time.monotonic() + timeout
    round_ = 0
    while round_ == 0 or time.monotonic() < deadline:
        yield round_
        round_ += 1


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


async def dump_database(sessions: Any) -> str:
    """Every row of every table of a database, each value whole, one row a line: what a
    database dump would show to someone who should not see secrets or personal data."""
    async with sessions() as session:
        connection = await session.connection()
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        rows = []
        for table in tables:
            result = await session.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            # Every value in full: a Row's repr shortens long strings, which could hide data.
            rows += ["\t".join(str(value) for value in row) for row in result.all()]
    return "\n".join(rows)


@contextlib.asynccontextmanager
async def serving_probe(
    server: RpcServer,
    nats_server_url: str,
    topology: Topology,
    *,
    transaction: Callable[[], Any],
    read: Callable[[], Any],
    max_workers: int = 2,
) -> AsyncIterator[NatsClient]:
    """`server` (the "probe" service) answering over NATS with these sessions for the block,
    which gets its connection to NATS."""
    broker = NatsBroker(nats_server_url, log_level=logging.DEBUG)
    nc = await broker.connect()
    serving = await server.serve(
        nc,
        lambda op: op.subject(topology),
        queue=topology.rpc_queue("probe"),
        transaction=transaction,
        max_workers=max_workers,
        read=read,
    )
    await nc.flush()
    try:
        yield nc
    finally:
        await serving.stop()
        await broker.stop()
