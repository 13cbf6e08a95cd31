"""Request-reply over a real nats-server: typed replies, typed errors, timeouts, queue groups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.contracts.base import Encoded, Operation, RpcReply, RpcRequest
from advocacy_shared.contracts.errors import (
    Invalid,
    NotFound,
    RemoteInternalError,
    RpcNoResponders,
    RpcTimeout,
)
from advocacy_shared.rpc import CORRELATION_HEADER, RpcClient, RpcServer, decode_reply
from advocacy_shared.topology import Topology
from tests.shared.helpers import polls, serving_probe


class Echo(RpcRequest):
    text: str
    delay: float = 0.0


class Echoed(RpcReply):
    text: str
    replica: str


ECHO: Operation[Echo, Echoed] = Operation("probe", "echo", Echo, Echoed)


def echo_server(replica: str) -> RpcServer:
    server = RpcServer("probe")

    @server.handles(ECHO)
    async def echo(_session: AsyncSession, request: Echo) -> Echoed:
        await asyncio.sleep(request.delay)
        if request.text == "missing":
            raise NotFound("no such thing", {"text": request.text})
        if request.text == "crash":
            raise ZeroDivisionError("a bug")
        return Echoed(text=request.text, replica=replica)

    return server


@contextlib.asynccontextmanager
async def no_transaction() -> AsyncIterator[Any]:
    yield None


async def serve(nats_server_url: str, topology: Topology, replica: str) -> NatsBroker:
    broker = NatsBroker(nats_server_url, log_level=logging.DEBUG)
    nc = await broker.connect()
    await echo_server(replica).serve(
        nc,
        lambda op: op.subject(topology),
        queue=topology.rpc_queue("probe"),
        transaction=no_transaction,
        max_workers=4,
    )
    await broker.start()
    await nc.flush()  # subscriptions are known to the server
    return broker


@pytest.fixture
async def client(nats_client: NatsClient, topology: Topology) -> RpcClient:
    return RpcClient(nats_client, lambda op: op.subject(topology), timeout=2.0)


@pytest.fixture
async def replica(nats_server_url: str, topology: Topology) -> AsyncIterator[NatsBroker]:
    broker = await serve(nats_server_url, topology, "a")
    yield broker
    await broker.stop()


@pytest.mark.usefixtures("replica")
async def test_a_request_gets_its_typed_reply(client: RpcClient) -> None:
    reply = await client.call(ECHO, Echo(text="hello"))
    assert reply == Echoed(text="hello", replica="a")


@pytest.mark.usefixtures("replica")
async def test_a_domain_error_arrives_typed_with_its_detail(client: RpcClient) -> None:
    with pytest.raises(NotFound) as raised:
        await client.call(ECHO, Echo(text="missing"))
    assert raised.value.message == "no such thing"
    assert raised.value.detail == {"text": "missing"}


@pytest.mark.usefixtures("replica")
async def test_a_handler_that_raises_answers_an_internal_error_at_once_not_a_timeout(
    client: RpcClient,
) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(RemoteInternalError) as raised:
        await client.call(ECHO, Echo(text="crash"), timeout=5.0)
    assert asyncio.get_running_loop().time() - started < 2.0
    assert "a bug" not in raised.value.message  # internals stay in the service's log


@pytest.mark.usefixtures("replica")
async def test_a_request_that_does_not_match_its_schema_is_refused_as_invalid(
    nats_client: NatsClient, topology: Topology
) -> None:
    reply = await nats_client.request(ECHO.subject(topology), b'{"text": 5}', timeout=2)
    with pytest.raises(Invalid) as raised:
        decode_reply(ECHO, reply.data)
    assert raised.value.detail is not None
    assert raised.value.detail["errors"][0]["loc"] == ["text"]


@pytest.mark.usefixtures("replica")
async def test_a_reply_does_not_carry_the_request_s_headers_back(
    nats_client: NatsClient, topology: Topology
) -> None:
    """The caller reads none of them; sending them back cost both sides CPU per request."""
    headers = {CORRELATION_HEADER: "c0ffee", "Advocacy-Other": "x"}
    body = Echo(text="bare").model_dump_json().encode()
    reply = await nats_client.request(ECHO.subject(topology), body, timeout=2, headers=headers)
    assert decode_reply(ECHO, reply.data) == Echoed(text="bare", replica="a")
    assert not reply.headers


@pytest.mark.usefixtures("replica")
async def test_a_service_that_does_not_answer_in_time_fails_with_a_typed_timeout(
    client: RpcClient,
) -> None:
    with pytest.raises(RpcTimeout, match="did not answer echo in time"):
        await client.call(ECHO, Echo(text="slow", delay=1.0), timeout=0.2)


@pytest.mark.usefixtures("replica")
async def test_requests_in_flight_together_each_get_their_own_reply_in_any_order(
    client: RpcClient,
) -> None:
    """The client's one reply inbox hands each reply to its own caller: the first request sent
    is answered last here."""
    texts = [str(i) for i in range(12)]
    calls = [client.call(ECHO, Echo(text=t, delay=0.02 * (12 - i))) for i, t in enumerate(texts)]
    replies = await asyncio.gather(*calls)
    assert [reply.text for reply in replies] == texts


@pytest.mark.usefixtures("replica")
async def test_a_request_that_timed_out_or_was_cancelled_leaves_no_reply_waiting(
    client: RpcClient,
) -> None:
    with pytest.raises(RpcTimeout):
        await client.call(ECHO, Echo(text="late", delay=0.3), timeout=0.05)
    cancelled = asyncio.create_task(client.call(ECHO, Echo(text="dropped", delay=0.3)))
    await asyncio.sleep(0.05)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    # Answered after both late replies (one server, replies in the order they finish): each of
    # those finds nobody waiting, and this one still gets its own.
    slower = Echo(text="next", delay=0.5)
    assert await client.call(ECHO, slower) == Echoed(text="next", replica="a")
    assert client._replies is not None
    assert client._replies.waiting == {}


async def answered(client: RpcClient) -> Echoed:
    """The first reply of a service that just started: its subscription may reach the server a
    moment after `broker.start()` returns, so no responders is retried for up to two seconds."""
    for _ in polls(10):
        try:
            return await client.call(ECHO, Echo(text="up"))
        except RpcNoResponders:
            await asyncio.sleep(0.05)
    return await client.call(ECHO, Echo(text="up"))


async def test_a_stopped_service_fails_typed_and_fast(
    nats_server_url: str, topology: Topology, client: RpcClient
) -> None:
    broker = await serve(nats_server_url, topology, "a")
    assert (await answered(client)).text == "up"
    await broker.stop()

    started = asyncio.get_running_loop().time()
    with pytest.raises(RpcNoResponders, match="probe service is not running"):
        await client.call(ECHO, Echo(text="down"))
    assert asyncio.get_running_loop().time() - started < 0.5


async def test_replicas_in_a_queue_group_share_requests_and_each_is_answered_once(
    nats_server_url: str, topology: Topology, client: RpcClient
) -> None:
    brokers = [await serve(nats_server_url, topology, name) for name in ("a", "b")]
    try:
        replies = await asyncio.gather(
            *(client.call(ECHO, Echo(text=str(i), delay=0.01)) for i in range(60))
        )
    finally:
        for broker in brokers:
            await broker.stop()
    assert sorted(int(r.text) for r in replies) == list(range(60))
    replicas = {r.replica for r in replies}
    assert replicas == {"a", "b"}


async def test_a_read_handler_gets_a_read_session_and_a_command_a_transaction(
    nats_server_url: str, topology: Topology, client: RpcClient
) -> None:
    server = RpcServer("probe")
    looked_up: Operation[Echo, Echoed] = Operation("probe", "look", Echo, Echoed)

    @server.reads(looked_up)
    async def look(session: Any, request: Echo) -> Echoed:
        return Echoed(text=request.text, replica=session)

    @server.handles(ECHO)
    async def echo(session: Any, request: Echo) -> Echoed:
        return Echoed(text=request.text, replica=session)

    @contextlib.asynccontextmanager
    async def opening(name: str) -> AsyncIterator[str]:
        yield name

    async with serving_probe(
        server,
        nats_server_url,
        topology,
        transaction=lambda: opening("transaction"),
        read=lambda: opening("read"),
    ):
        assert (await answered(client)).replica == "transaction"
        assert (await client.call(looked_up, Echo(text="x"))).replica == "read"
        assert (await client.call(ECHO, Echo(text="x"))).replica == "transaction"


async def test_a_read_answered_already_serialized_reaches_the_caller_as_the_model_would(
    nats_server_url: str, topology: Topology, client: RpcClient
) -> None:
    server = RpcServer("probe")
    looked_up: Operation[Echo, Echoed] = Operation("probe", "look", Echo, Echoed)
    kept = Encoded.of(Echoed(text="kept", replica="serialized once"))

    @server.reads(looked_up)
    async def look(session: Any, request: Echo) -> Echoed | Encoded[Echoed]:
        return kept if request.text == "kept" else Echoed(text=request.text, replica="model")

    @contextlib.asynccontextmanager
    async def opening() -> AsyncIterator[None]:
        yield None

    async with serving_probe(server, nats_server_url, topology, transaction=opening, read=opening):
        assert await client.call(looked_up, Echo(text="kept")) == Echoed(
            text="kept", replica="serialized once"
        )
        assert await client.call_json(looked_up, Echo(text="kept")) == kept.json
        assert await client.call(looked_up, Echo(text="other")) == Echoed(
            text="other", replica="model"
        )


async def test_a_handler_that_needs_no_database_is_answered_without_opening_a_session(
    nats_server_url: str, topology: Topology, client: RpcClient
) -> None:
    server = RpcServer("probe")

    @server.answers(ECHO)
    async def echo(request: Echo) -> Echoed:
        return Echoed(text=request.text, replica="plain")

    def no_session() -> Any:
        raise AssertionError("a handler that needs no database opened a session")

    async with serving_probe(
        server, nats_server_url, topology, transaction=no_session, read=no_session
    ):
        assert await answered(client) == Echoed(text="up", replica="plain")
        assert await client.call(ECHO, Echo(text="x")) == Echoed(text="x", replica="plain")
