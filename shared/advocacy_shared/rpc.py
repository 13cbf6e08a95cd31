"""Request-reply over core NATS: typed requests, typed replies, typed errors, timeouts.

A request handler that raises would send no reply at all and leave the caller waiting out its
timeout, so the server side catches everything and answers with a typed error instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

import nats.errors
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.contracts.base import Operation, Rep, Req, RpcReply, RpcRequest
from advocacy_shared.contracts.errors import (
    ERRORS_BY_CODE,
    Invalid,
    RpcError,
    RpcErrorBody,
    RpcNoResponders,
    RpcTimeout,
)
from advocacy_shared.envelope import new_id
from advocacy_shared.idempotency import CommandKey, CommandRecords, command_key_headers
from advocacy_shared.logs import correlation_id_var, organisation_id_var
from advocacy_shared.outbox import Outbox

log = logging.getLogger(__name__)

CORRELATION_HEADER = "Advocacy-Correlation-Id"

RpcHandler = Callable[[AsyncSession, Any], Awaitable[RpcReply]]
Transaction = Callable[[], Any]
SteppedHandler = Callable[[Transaction, Any], Awaitable[RpcReply]]


class _Success(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[True] = True
    reply: dict[str, Any]


class _Failure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: Literal[False] = False
    error: RpcErrorBody


def encode_reply(reply: RpcReply) -> bytes:
    return _Success(reply=reply.model_dump(mode="json")).model_dump_json().encode()


def encode_error(error: RpcError) -> bytes:
    return _Failure(error=error.body()).model_dump_json().encode()


def decode_reply(operation: Operation[Any, Rep], payload: bytes) -> Rep:
    """Return the typed reply, or raise the typed error the service answered with."""
    try:
        outcome = _Success.model_validate_json(payload)
    except ValidationError:
        try:
            failure = _Failure.model_validate_json(payload)
        except ValidationError as exc:
            raise RpcError(f"{operation.service} sent an unreadable reply") from exc
        error_type = ERRORS_BY_CODE.get(failure.error.code, RpcError)
        raise error_type(failure.error.message, failure.error.detail) from None
    return operation.reply.model_validate(outcome.reply)


class RpcServer:
    """The request handlers of one service, declared in its rpc module."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: list[tuple[Operation[Any, Any], RpcHandler | SteppedHandler, bool]] = []
        self._outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        """The service's outbox, for handlers whose command emits events (same transaction)."""
        if self._outbox is None:
            raise RuntimeError(f"the {self.service} request handlers are not attached yet")
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
            self._handlers.append((operation, fn, False))
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
            self._handlers.append((operation, fn, True))
            return fn

        return register

    @property
    def operations(self) -> list[Operation[Any, Any]]:
        return [operation for operation, _, _ in self._handlers]

    def attach(
        self,
        broker: NatsBroker,
        subject_of: Callable[[Operation[Any, Any]], str],
        queue: str,
        transaction: Transaction,
        max_workers: int,
        outbox: Outbox | None = None,
        commands: CommandRecords | None = None,
    ) -> None:
        self._outbox = outbox
        for operation, handler, in_steps in self._handlers:
            responder = _Responder(operation, handler, transaction, in_steps, commands)
            broker.subscriber(
                subject_of(operation), queue=queue, max_workers=max_workers, title=operation.name
            )(responder.on_message)


class _Responder:
    def __init__(
        self,
        operation: Operation[Any, Any],
        handler: RpcHandler | SteppedHandler,
        transaction: Transaction,
        in_steps: bool,
        commands: CommandRecords | None = None,
    ) -> None:
        self.operation = operation
        self.handler = handler
        self.transaction = transaction
        self.in_steps = in_steps
        self.commands = commands

    async def on_message(self, msg: NatsMessage) -> bytes:
        headers = msg.headers or {}
        correlation_id_var.set(headers.get(CORRELATION_HEADER) or new_id())
        try:
            request = self.operation.request.model_validate_json(msg.body)
        except ValidationError as exc:
            return encode_error(Invalid("invalid request", {"errors": _errors(exc)}))
        organisation_id_var.set(str(getattr(request, "organisation_id", "")) or None)
        try:
            reply = await self._handle(request, CommandKey.from_headers(headers))
        except RpcError as exc:
            return encode_error(exc)
        except Exception:
            log.exception("request handler failed", extra={"operation": self.operation.name})
            return encode_error(RpcError("the service failed to handle the request"))
        return encode_reply(reply)

    async def _handle(self, request: RpcRequest, key: CommandKey | None) -> RpcReply:
        if self.in_steps:
            return await cast(SteppedHandler, self.handler)(self.transaction, request)
        if key is not None and self.commands is not None:
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


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_input=False)
    ]


class RpcClient:
    """Calls operations over a plain nats-py connection (a thinner path than the broker's)."""

    def __init__(
        self, nc: NatsClient, subject_of: Callable[[Operation[Any, Any]], str], timeout: float
    ) -> None:
        self.nc = nc
        self.subject_of = subject_of
        self.timeout = timeout

    async def call(
        self, operation: Operation[Req, Rep], request: Req, *, timeout: float | None = None
    ) -> Rep:
        correlation_id = correlation_id_var.get() or new_id()
        try:
            msg = await self.nc.request(
                self.subject_of(operation),
                request.model_dump_json().encode(),
                timeout=timeout or self.timeout,
                headers={CORRELATION_HEADER: correlation_id, **command_key_headers()},
            )
        except nats.errors.NoRespondersError as exc:
            raise RpcNoResponders(f"the {operation.service} service is not running") from exc
        except nats.errors.TimeoutError as exc:
            raise RpcTimeout(
                f"the {operation.service} service did not answer {operation.name} in time"
            ) from exc
        return decode_reply(operation, msg.data)
