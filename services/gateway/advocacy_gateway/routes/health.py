"""Liveness, readiness and the platform's status.

`/readyz` is the gateway's readiness probe: it checks only what the gateway itself needs (its
database and its NATS connection), never other services, so that one stopped service (even an
idle one) cannot take every gateway replica out of its load balancer. What the rest of the
platform is doing is `/status`, for operators.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, Field
from sqlalchemy import text

from advocacy_gateway.auth import PlatformAdmin
from advocacy_gateway.models import messaging
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import COMMON_PROBLEMS, SERVICE_PROBLEMS, State
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.errors import RpcError
from advocacy_shared.contracts.system import PROCESSES, ServiceStatus, StatusRequest, status
from advocacy_shared.runtime import outbox_backlog
from advocacy_shared.topology import DOMAINS

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/readyz",
    summary="The gateway's own dependencies answer: its database and NATS",
    responses={503: SERVICE_PROBLEMS[503]},
)
async def readyz(state: State) -> dict[str, Any]:
    nats_ok = _nats_connected(state)
    database_ok = await _database_answers(state)
    if nats_ok and database_ok:
        return {"status": "ready", "database": True, "nats": True}
    raise ProblemError(
        503,
        "not-ready",
        "the gateway is not ready",
        headers={"Retry-After": "1"},
        database=database_ok,
        nats=nats_ok,
    )


class ProcessState(BaseModel):
    state: str = Field(description="`ready`, or why the process did not answer")
    version: str | None = None
    outbox_backlog: int | None = Field(None, description="Events written, not yet published")
    oldest_unsent_seconds: float | None = Field(None, description="Age of the oldest of them")
    outbox_parked: int | None = Field(
        None,
        description="Events parked by the relay: they can never be published, an operator must "
        "act (`advocacy deadletters parked SERVICE`)",
    )


class ConsumerLag(BaseModel):
    stream: str
    consumer: str
    num_pending: int = Field(description="Messages not yet delivered to the consumer")
    num_ack_pending: int = Field(description="Delivered, not yet acknowledged")
    num_redelivered: int
    dead_letters: int = Field(description="Messages this consumer dead-lettered, still kept")


class PlatformStatus(BaseModel):
    nats: bool = Field(description="The gateway is connected to NATS")
    processes: dict[str, ProcessState] = Field(
        description="The gateway (from its own database) and every process answering "
        "`system.status` over NATS"
    )
    consumers: list[ConsumerLag] = Field(description="Every durable consumer of every stream")
    dead_letters: int | None = Field(description="Messages in the dead-letter stream")
    dead_letters_by_consumer: dict[str, int] = Field(
        description="The dead-letter stream's messages by the consumer that gave up on them "
        "(`advocacy deadletters list --consumer NAME`)"
    )


@router.get(
    "/status",
    summary="Each process's state and outbox backlog, consumer lag, dead letters (platform admin)",
    responses={401: COMMON_PROBLEMS[401], 403: COMMON_PROBLEMS[403]},
)
async def platform_status(_admin: PlatformAdmin, state: State) -> PlatformStatus:
    nats_ok = _nats_connected(state)
    processes = {"gateway": await _gateway_state(state)}
    consumers: list[ConsumerLag] = []
    by_consumer: dict[str, int] = {}
    if nats_ok:
        processes |= await _process_states(state)
        consumers, by_consumer = await _jetstream_state(state)
    else:
        processes |= {name: ProcessState(state="NATS is unavailable") for name in PROCESSES}
    return PlatformStatus(
        nats=nats_ok,
        processes=processes,
        consumers=consumers,
        dead_letters=sum(by_consumer.values()) if nats_ok else None,
        dead_letters_by_consumer=by_consumer,
    )


def _nats_connected(state: GatewayState) -> bool:
    return state.nc is not None and state.nc.is_connected


async def _database_answers(state: GatewayState) -> bool:
    try:
        async with asyncio.timeout(state.settings.readiness_timeout_seconds):
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("the gateway's database did not answer", exc_info=True)
        return False
    return True


async def _gateway_state(state: GatewayState) -> ProcessState:
    try:
        async with asyncio.timeout(state.settings.readiness_timeout_seconds):
            async with state.sessions() as session:
                backlog, age, parked = await outbox_backlog(session, messaging.outbox)
    except Exception as exc:
        return ProcessState(state=f"database: {type(exc).__name__}")
    return ProcessState(
        state="ready", outbox_backlog=backlog, oldest_unsent_seconds=age, outbox_parked=parked
    )


async def _process_states(state: GatewayState) -> dict[str, ProcessState]:
    timeout = state.settings.readiness_timeout_seconds
    results = await asyncio.gather(
        *(state.rpc.call(status(name), StatusRequest(), timeout=timeout) for name in PROCESSES),
        return_exceptions=True,
    )
    return {name: _process_state(result) for name, result in zip(PROCESSES, results, strict=True)}


def _process_state(result: ServiceStatus | BaseException) -> ProcessState:
    if isinstance(result, ServiceStatus):
        return ProcessState(
            state="ready",
            version=result.version,
            outbox_backlog=result.outbox_backlog,
            oldest_unsent_seconds=result.oldest_unsent_seconds,
            outbox_parked=result.outbox_parked,
        )
    reason = result.message if isinstance(result, RpcError) else type(result).__name__
    return ProcessState(state=reason)


async def _jetstream_state(state: GatewayState) -> tuple[list[ConsumerLag], dict[str, int]]:
    """Every durable consumer's lag, and the dead letters kept, by the consumer that gave up."""
    assert state.nc is not None
    js = state.nc.jetstream()
    consumers: list[ConsumerLag] = []
    async with asyncio.timeout(state.settings.readiness_timeout_seconds * 2):
        by_consumer = await _dead_letters_by_consumer(state, js)
        for stream in [state.topology.stream_name(d) for d in DOMAINS]:
            try:
                infos = await js.consumers_info(stream)
            except NotFoundError:
                continue
            consumers += [
                ConsumerLag(
                    stream=stream,
                    consumer=info.name,
                    num_pending=info.num_pending or 0,
                    num_ack_pending=info.num_ack_pending or 0,
                    num_redelivered=info.num_redelivered or 0,
                    dead_letters=by_consumer.get(info.name, 0),
                )
                for info in infos
            ]
    return consumers, by_consumer


async def _dead_letters_by_consumer(state: GatewayState, js: JetStreamContext) -> dict[str, int]:
    """The dead-letter stream's message count per subject (`<ns>.deadletter.<consumer>`)."""
    prefix = state.topology.dead_letter_subject("")
    try:
        info = await js.stream_info(state.topology.dead_letter_stream, subjects_filter=">")
    except NotFoundError:
        return {}
    subjects = info.state.subjects or {}
    return {
        subject.removeprefix(prefix): count
        for subject, count in sorted(subjects.items())
        if subject.startswith(prefix)
    }
