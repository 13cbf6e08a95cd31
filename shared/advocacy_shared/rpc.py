"""Request-reply over core NATS: typed requests, typed replies, typed errors, timeouts.

A request handler that raises would send no reply at all and leave the caller waiting out its
timeout, so the server side catches everything and answers with a typed error instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, cast

import nats.errors
import nats.js.api
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared import tracing
from advocacy_shared.contracts.base import Encoded, Operation, Rep, Req, RpcReply, RpcRequest
from advocacy_shared.contracts.errors import (
    ERRORS_BY_CODE,
    Invalid,
    NatsUnavailable,
    RpcError,
    RpcErrorBody,
    RpcNoResponders,
    RpcTimeout,
)
from advocacy_shared.envelope import new_id
from advocacy_shared.idempotency import CommandKey, CommandRecords, command_key_headers
from advocacy_shared.logs import correlation_id_var, organisation_id_var
from advocacy_shared.outbox import Outbox
from advocacy_shared.telemetry import RPC_CLIENT_SECONDS, RPC_SERVER_SECONDS, labelled

log = logging.getLogger(__name__)

CORRELATION_HEADER = "Advocacy-Correlation-Id"
NATS_UNAVAILABLE = "NATS is unavailable"

# What nats-py raises when the connection, not the service, is the trouble.
_CONNECTION_ERRORS = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
)

RpcHandler = Callable[[AsyncSession, Any], Awaitable[RpcReply]]
ReadHandler = Callable[[AsyncSession, Any], Awaitable[RpcReply | Encoded[Any]]]
Transaction = Callable[[], Any]
SteppedHandler = Callable[[Transaction, Any], Awaitable[RpcReply]]
PlainHandler = Callable[[Any], Awaitable[RpcReply]]
Mode = Literal["transaction", "read", "steps", "plain"]
"""How a handler gets its session: in a transaction, in a read session, opening its own, or
none at all (it answers without the database)."""


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[True] = True
    reply: dict[str, Any]


class _Failure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[False] = False
    error: RpcErrorBody


_SUCCESS_PREFIX = b'{"ok":true,"reply":'
"""How every successful reply starts: `encode_reply` writes the envelope around the reply's own
JSON, and `decode_reply` validates the reply straight from those bytes, with no dict in between."""


def encode_reply(reply: RpcReply | Encoded[Any]) -> bytes:
    json = (
        reply.json if isinstance(reply, Encoded) else reply.__pydantic_serializer__.to_json(reply)
    )
    return _SUCCESS_PREFIX + json + b"}"


def encode_error(error: RpcError) -> bytes:
    return _Failure(error=error.body()).model_dump_json().encode()


def decode_reply(operation: Operation[Any, Rep], payload: bytes) -> Rep:
    """Return the typed reply, or raise the typed error the service answered with."""
    if payload.startswith(_SUCCESS_PREFIX) and payload.endswith(b"}"):
        return operation.reply.model_validate_json(payload[len(_SUCCESS_PREFIX) : -1])
    return operation.reply.model_validate(_decode_outcome(operation, payload).reply)


def reply_json(operation: Operation[Any, Any], payload: bytes) -> bytes:
    """The reply's own JSON bytes, as the service serialized them from its validated reply, or
    the typed error it answered with: for a caller that only passes the reply on."""
    if payload.startswith(_SUCCESS_PREFIX) and payload.endswith(b"}"):
        return payload[len(_SUCCESS_PREFIX) : -1]
    reply: RpcReply = operation.reply.model_validate(_decode_outcome(operation, payload).reply)
    return reply.model_dump_json().encode()


def _decode_outcome(operation: Operation[Any, Any], payload: bytes) -> _Success:
    try:
        return _Success.model_validate_json(payload)
    except ValidationError:
        try:
            failure = _Failure.model_validate_json(payload)
        except ValidationError as exc:
            raise RpcError(f"{operation.service} sent an unreadable reply") from exc
        error_type = ERRORS_BY_CODE.get(failure.error.code, RpcError)
        raise error_type(failure.error.message, failure.error.detail) from None


class RpcServer:
    """The request handlers of one service, declared in its rpc module."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: list[
            tuple[
                Operation[Any, Any], RpcHandler | ReadHandler | SteppedHandler | PlainHandler, Mode
            ]
        ] = []
        self._outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        """The service's outbox, for handlers whose command emits events (same transaction)."""
        if self._outbox is None:
            raise RuntimeError(f"the {self.service} request handlers are not serving yet")
        return self._outbox

    def handles(
        self, operation: Operation[Req, Rep]
    ) -> Callable[
        [Callable[[AsyncSession, Req], Awaitable[Rep]]],
        Callable[[AsyncSession, Req], Awaitable[Rep]],
    ]:
        if operation.service != self.service:
            raise ValueError(f"{operation.subject} belongs to {operation.service}")

        def register(
            fn: Callable[[AsyncSession, Req], Awaitable[Rep]],
        ) -> Callable[[AsyncSession, Req], Awaitable[Rep]]:
            self._handlers.append((operation, fn, "transaction"))
            return fn

        return register

    def reads(
        self, operation: Operation[Req, Rep]
    ) -> Callable[
        [Callable[[AsyncSession, Req], Awaitable[Rep | Encoded[Rep]]]],
        Callable[[AsyncSession, Req], Awaitable[Rep | Encoded[Rep]]],
    ]:
        """A handler that only reads: its session runs without a transaction (no BEGIN, no
        COMMIT) and refuses to write (`advocacy_shared.db.read_session_factory`). It may answer
        a reply it keeps already serialized (`Encoded`)."""
        if operation.service != self.service:
            raise ValueError(f"{operation.subject} belongs to {operation.service}")

        def register(
            fn: Callable[[AsyncSession, Req], Awaitable[Rep | Encoded[Rep]]],
        ) -> Callable[[AsyncSession, Req], Awaitable[Rep | Encoded[Rep]]]:
            self._handlers.append((operation, fn, "read"))
            return fn

        return register

    def handles_in_steps(
        self, operation: Operation[Req, Rep]
    ) -> Callable[
        [Callable[[Transaction, Req], Awaitable[Rep]]],
        Callable[[Transaction, Req], Awaitable[Rep]],
    ]:
        """A handler that opens its own transactions (`async with transaction() as session`),
        for a request that waits on something outside between reading and writing (a call to
        LinkedIn): no database connection is held while it waits."""
        if operation.service != self.service:
            raise ValueError(f"{operation.subject} belongs to {operation.service}")

        def register(
            fn: Callable[[Transaction, Req], Awaitable[Rep]],
        ) -> Callable[[Transaction, Req], Awaitable[Rep]]:
            self._handlers.append((operation, fn, "steps"))
            return fn

        return register

    def answers(
        self, operation: Operation[Req, Rep]
    ) -> Callable[[Callable[[Req], Awaitable[Rep]]], Callable[[Req], Awaitable[Rep]]]:
        """A handler that needs no database (the system ping): no session is opened for it."""
        if operation.service != self.service:
            raise ValueError(f"{operation.subject} belongs to {operation.service}")

        def register(fn: Callable[[Req], Awaitable[Rep]]) -> Callable[[Req], Awaitable[Rep]]:
            self._handlers.append((operation, fn, "plain"))
            return fn

        return register

    @property
    def operations(self) -> list[Operation[Any, Any]]:
        return [operation for operation, _, _ in self._handlers]

    async def serve(
        self,
        nc: NatsClient,
        subject_of: Callable[[Operation[Any, Any]], str],
        queue: str,
        transaction: Transaction,
        max_workers: int,
        outbox: Outbox | None = None,
        read: Transaction | None = None,
        commands: CommandRecords | None = None,
    ) -> RpcServing:
        """Subscribe every operation on a plain nats-py connection, `max_workers` requests at a
        time; `read` opens a session for `reads` handlers (without one they use `transaction`);
        `commands` records idempotency keys in a command's own transaction.

        Plain nats-py, not a FastStream subscriber: FastStream's concurrent subscriber
        (`max_workers` > 1) added milliseconds to every request here (docs/performance.md).
        """
        self._outbox = outbox
        serving = RpcServing(max_workers)
        for operation, handler, mode in self._handlers:
            responder = _Responder(
                operation, handler, transaction, read or transaction, mode, commands
            )
            await serving.subscribe(nc, subject_of(operation), queue, responder)
        return serving


class RpcServing:
    """One process's subscriptions to its request subjects, and the requests it has in hand."""

    def __init__(self, max_workers: int) -> None:
        self._workers = asyncio.Semaphore(max_workers)
        self._subscriptions: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    async def subscribe(
        self, nc: NatsClient, subject: str, queue: str, responder: _Responder
    ) -> None:
        async def dispatch(msg: Msg) -> None:
            # nats-py calls this once per message, in order: waiting for a free worker here holds
            # the next message back; answering runs in a task of its own.
            await self._workers.acquire()
            task = asyncio.create_task(self._answer(nc, responder, msg))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

        self._subscriptions.append(await nc.subscribe(subject, queue=queue, cb=dispatch))

    async def _answer(self, nc: NatsClient, responder: _Responder, msg: Msg) -> None:
        try:
            answer = await responder.on_message(msg.headers or {}, msg.data)
            if msg.reply:
                # Not `msg.respond`, which sends the request's headers back with the reply: the
                # caller reads none of them, and writing and parsing them cost both sides CPU.
                await nc.publish(msg.reply, answer)
        except Exception:
            log.exception("could not answer a request", extra={"subject": msg.subject})
        finally:
            self._workers.release()

    async def stop(self, timeout: float = 10.0) -> None:
        """Take no more requests, then give those in hand up to `timeout` seconds to finish."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout)


_UNTOUCHED_KEPT = 64
"""Read sessions a responder keeps for reuse, at most (one per read in flight suffices)."""


class _Responder:
    def __init__(
        self,
        operation: Operation[Any, Any],
        handler: RpcHandler | ReadHandler | SteppedHandler | PlainHandler,
        transaction: Transaction,
        read: Transaction,
        mode: Mode,
        commands: CommandRecords | None = None,
    ) -> None:
        self.operation = operation
        self.handler = handler
        self.transaction = transaction
        self.read = read
        self.mode = mode
        self.commands = commands
        self._untouched: list[AsyncSession] = []

    async def on_message(self, headers: Mapping[str, str], body: bytes) -> bytes:
        started = time.perf_counter()
        if not tracing.active:
            answer, outcome = await self._answer(headers, body)
        else:
            with tracing.span(
                f"{self.operation.service}.{self.operation.name}",
                "server",
                parent=headers.get(tracing.TRACEPARENT),
                attributes={"rpc.system": "nats", "rpc.service": self.operation.service},
            ) as span:
                answer, outcome = await self._answer(headers, body)
                span.set_attribute("advocacy.outcome", outcome)
        operation = self.operation
        labelled(RPC_SERVER_SECONDS, operation.service, operation.name, outcome).observe(
            time.perf_counter() - started
        )
        return answer

    async def _answer(self, headers: Mapping[str, str], body: bytes) -> tuple[bytes, str]:
        """The reply's bytes and the outcome as metrics count it: ok or the error's code."""
        correlation_id_var.set(headers.get(CORRELATION_HEADER) or new_id())
        try:
            request = self.operation.request.model_validate_json(body)
        except ValidationError as exc:
            error = Invalid("invalid request", {"errors": _errors(exc)})
            return encode_error(error), error.code
        organisation_id_var.set(str(getattr(request, "organisation_id", "")) or None)
        try:
            reply = await self._handle(request, CommandKey.from_headers(headers))
        except RpcError as exc:
            return encode_error(exc), exc.code
        except Exception:
            log.exception("request handler failed", extra={"operation": self.operation.name})
            failed = RpcError("the service failed to handle the request")
            return encode_error(failed), failed.code
        return encode_reply(reply), "ok"

    async def _handle(self, request: RpcRequest, key: CommandKey | None) -> RpcReply | Encoded[Any]:
        if self.mode == "plain":
            return await cast(PlainHandler, self.handler)(request)
        if self.mode == "read":
            return await self._read(request)
        if self.mode == "steps":
            return await cast(SteppedHandler, self.handler)(self.transaction, request)
        if key is not None and self.commands is not None and self.mode == "transaction":
            handler = cast(RpcHandler, self.handler)
            return await self.commands.run_once(
                self.transaction,
                key,
                self.operation,
                request,
                lambda session: handler(session, request),
            )
        async with self.transaction() as session:
            return await cast(RpcHandler, self.handler)(session, request)

    async def _read(self, request: RpcRequest) -> RpcReply | Encoded[Any]:
        """A read handler in a read session. A session that never took a connection and holds
        no rows (its handler read only through `LeanRead`) has nothing to give back and nothing
        to forget: it serves the next read as it is, which saves creating and closing one (about
        10 µs a read). Any other is closed; one that holds a connection through
        `AsyncSession.__aexit__`, which shields the close that returns it to the pool."""
        opened = self._untouched.pop() if self._untouched else self.read()
        if not isinstance(opened, AsyncSession):
            async with opened as session:
                return await cast(ReadHandler, self.handler)(session, request)
        try:
            return await cast(ReadHandler, self.handler)(opened, request)
        finally:
            held = opened.sync_session
            if held.in_transaction():
                await opened.__aexit__(None, None, None)
            elif held.identity_map or held.new or held.deleted or held.info:
                held.close()
            elif len(self._untouched) < _UNTOUCHED_KEPT:
                self._untouched.append(opened)


def _error_code(payload: bytes) -> str:
    """The code of an error reply, for metrics (`decode_reply` raises it afterwards)."""
    try:
        return str(_Failure.model_validate_json(payload).error.code)
    except ValidationError:
        return "unreadable"


def _client_outcome(exc: RpcError) -> str:
    """How a failed call counts: the error's code, or what kept the request from a service."""
    if isinstance(exc, RpcTimeout):
        return "timeout"
    if isinstance(exc, RpcNoResponders):
        return "no_responders"
    if isinstance(exc, NatsUnavailable):
        return "unavailable"
    return str(exc.code)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_input=False)
    ]


class _Replies:
    """The replies of one client's requests: one wildcard inbox subscription, a future per
    request in flight, a timer for its timeout.

    nats-py's own `request` does the same with more work per request (a random token read from
    the OS, a callback closure, `asyncio.wait_for` with its extra future and callbacks), which a
    request one at a time paid about 40 µs of CPU for (docs/performance.md, "The sixth round").
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count()

    @classmethod
    async def open(cls, nc: NatsClient) -> _Replies:
        replies = cls(nc.new_inbox() + ".")
        await nc.subscribe(replies.prefix + "*", cb=replies.deliver)
        return replies

    async def deliver(self, msg: Msg) -> None:
        future = self.waiting.pop(msg.subject[len(self.prefix) :], None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def request(
        self, nc: NatsClient, subject: str, payload: bytes, timeout: float, headers: dict[str, str]
    ) -> Msg:
        """The reply to one request, or `nats.errors.TimeoutError` after `timeout` seconds, or
        `NoRespondersError` when the server knows nobody who could answer."""
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self.waiting[token] = future
        timer = loop.call_later(timeout, _time_out, future)
        try:
            await nc.publish(subject, payload, reply=self.prefix + token, headers=headers)
            msg = await future
        finally:
            timer.cancel()
            self.waiting.pop(token, None)
        if msg.headers and msg.headers.get(nats.js.api.Header.STATUS) == _NO_RESPONDERS:
            raise nats.errors.NoRespondersError
        return msg


_NO_RESPONDERS = "503"
"""The status of the server's answer to a request nobody is subscribed to."""


def _time_out(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(nats.errors.TimeoutError())


class RpcClient:
    """Calls operations over a plain nats-py connection (a thinner path than the broker's)."""

    def __init__(
        self, nc: NatsClient, subject_of: Callable[[Operation[Any, Any]], str], timeout: float
    ) -> None:
        self.nc = nc
        self.subject_of = subject_of
        self.timeout = timeout
        self._replies: _Replies | None = None
        self._opening = asyncio.Lock()

    async def _inbox(self) -> _Replies:
        """The reply inbox, subscribed on the first request."""
        if self._replies is None:
            async with self._opening:
                if self._replies is None:
                    self._replies = await _Replies.open(self.nc)
        return self._replies

    async def call(
        self, operation: Operation[Req, Rep], request: Req, *, timeout: float | None = None
    ) -> Rep:
        return decode_reply(operation, await self._request(operation, request, timeout))

    async def call_json(
        self, operation: Operation[Req, Any], request: Req, *, timeout: float | None = None
    ) -> bytes:
        """The reply's JSON bytes without decoding them (`reply_json`): for a caller that passes
        the reply on as it is, so it is neither validated nor serialized a second time."""
        return reply_json(operation, await self._request(operation, request, timeout))

    async def _request(
        self, operation: Operation[Any, Any], request: RpcRequest, timeout: float | None
    ) -> bytes:
        """The reply's bytes, timed by outcome (`advocacy_rpc_client_duration_seconds`)."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            if not tracing.active:
                payload = await self._send(operation, request, timeout, {})
            else:
                with tracing.span(
                    f"{operation.service}.{operation.name}",
                    "client",
                    attributes={"rpc.system": "nats", "rpc.service": operation.service},
                ):
                    headers: dict[str, str] = {}
                    tracing.inject(headers)
                    payload = await self._send(operation, request, timeout, headers)
            if not payload.startswith(_SUCCESS_PREFIX):
                outcome = _error_code(payload)
            return payload
        except RpcError as exc:
            outcome = _client_outcome(exc)
            raise
        finally:
            labelled(RPC_CLIENT_SECONDS, operation.service, operation.name, outcome).observe(
                time.perf_counter() - started
            )

    async def _send(
        self,
        operation: Operation[Any, Any],
        request: RpcRequest,
        timeout: float | None,
        trace_headers: dict[str, str],
    ) -> bytes:
        correlation_id = correlation_id_var.get() or new_id()
        if not self.nc.is_connected:
            # While reconnecting, nats-py would buffer the request and wait out the timeout.
            raise NatsUnavailable(NATS_UNAVAILABLE)
        try:
            replies = await self._inbox()
            msg = await replies.request(
                self.nc,
                self.subject_of(operation),
                # the serializer's bytes: `model_dump_json` decodes them to text, to be encoded back
                request.__pydantic_serializer__.to_json(request),
                timeout or self.timeout,
                {CORRELATION_HEADER: correlation_id, **command_key_headers(), **trace_headers},
            )
        except nats.errors.NoRespondersError as exc:
            raise RpcNoResponders(f"the {operation.service} service is not running") from exc
        except _CONNECTION_ERRORS as exc:
            raise NatsUnavailable(NATS_UNAVAILABLE) from exc
        except nats.errors.TimeoutError as exc:
            if not self.nc.is_connected:  # the connection dropped while we waited
                raise NatsUnavailable(NATS_UNAVAILABLE) from exc
            raise RpcTimeout(
                f"the {operation.service} service did not answer {operation.name} in time"
            ) from exc
        return msg.data
