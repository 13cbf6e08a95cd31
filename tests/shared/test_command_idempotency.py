"""A service records each Idempotency-Key in the command's own transaction: a retry gets the first
reply, the same key with another request is refused, two concurrent runs apply once, and the
stored reply is unreadable without the caller's key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.base import Operation, RpcReply, RpcRequest
from advocacy_shared.contracts.errors import Conflict
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.idempotency import CommandKey, CommandRecords, rpc_idempotency_table
from tests.shared.helpers import dump_database


class Create(RpcRequest):
    organisation_id: UUID
    name: str


class Created(RpcReply):
    id: UUID
    secret: str


CREATE: Operation[Create, Created] = Operation("probe", "thing.create", Create, Created)

metadata = MetaData()
commands = CommandRecords(rpc_idempotency_table(metadata))
things = Table(
    "things",
    metadata,
    Column("row", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
)

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@pytest.fixture
async def transaction(make_database: MakeDatabase) -> AsyncIterator[Transaction]:
    engine = create_engine(await make_database("probe", None))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)

    @asynccontextmanager
    async def unit() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            yield session

    yield unit
    await engine.dispose()


def create(request: Create) -> Callable[[AsyncSession], Awaitable[RpcReply]]:
    async def handle(session: AsyncSession) -> RpcReply:
        await session.execute(insert(things).values(name=request.name))
        await asyncio.sleep(0)  # let a concurrent run interleave
        return Created(id=uuid4(), secret=f"shown-once-{uuid4().hex}")

    return handle


async def count(transaction: Transaction) -> int:
    async with transaction() as session:
        return int((await session.execute(select(func.count()).select_from(things))).scalar_one())


async def test_a_retry_gets_the_first_reply_and_applies_nothing(transaction: Transaction) -> None:
    key = CommandKey.derive("credential", "create-1")
    request = Create(organisation_id=uuid4(), name="one")
    first = await commands.run_once(transaction, key, CREATE, request, create(request))
    again = await commands.run_once(transaction, key, CREATE, request, create(request))
    assert again == first
    assert await count(transaction) == 1


async def test_the_same_key_with_another_request_is_refused(transaction: Transaction) -> None:
    key = CommandKey.derive("credential", "create-2")
    organisation = uuid4()
    request = Create(organisation_id=organisation, name="one")
    await commands.run_once(transaction, key, CREATE, request, create(request))
    other = Create(organisation_id=organisation, name="other")
    with pytest.raises(Conflict):
        await commands.run_once(transaction, key, CREATE, other, create(other))
    assert await count(transaction) == 1


async def test_keys_are_per_caller_and_per_organisation(transaction: Transaction) -> None:
    request = Create(organisation_id=uuid4(), name="one")
    for scope in ("alice", "bob"):
        key = CommandKey.derive(scope, "same")
        await commands.run_once(transaction, key, CREATE, request, create(request))
    elsewhere = Create(organisation_id=uuid4(), name="one")
    key = CommandKey.derive("alice", "same")
    await commands.run_once(transaction, key, CREATE, elsewhere, create(elsewhere))
    assert await count(transaction) == 3


async def test_two_concurrent_runs_apply_once(transaction: Transaction) -> None:
    key = CommandKey.derive("credential", "burst")
    request = Create(organisation_id=uuid4(), name="burst")
    replies = await asyncio.gather(
        *(commands.run_once(transaction, key, CREATE, request, create(request)) for _ in range(2))
    )
    assert replies[0] == replies[1]
    assert await count(transaction) == 1


async def test_the_stored_reply_is_sealed_with_the_callers_key(transaction: Transaction) -> None:
    key = CommandKey.derive("credential", "sealed")
    request = Create(organisation_id=uuid4(), name="sealed")
    reply = await commands.run_once(transaction, key, CREATE, request, create(request))
    assert isinstance(reply, Created)
    everything = await dump_database(transaction)
    assert reply.secret not in everything
    assert key.seal_key not in everything
    assert "sealed" in everything  # the dump does show the command's own row
