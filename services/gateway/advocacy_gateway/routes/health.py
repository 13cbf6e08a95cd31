"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import SERVICE_PROBLEMS, State
from advocacy_shared.contracts.errors import RpcError
from advocacy_shared.contracts.system import SERVICES, PingRequest, ping

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/readyz",
    summary="NATS is reachable and every service answers a ping",
    responses={503: SERVICE_PROBLEMS[503]},
)
async def readyz(state: State) -> dict[str, Any]:
    nats_ok = state.nc is not None and state.nc.is_connected
    services: dict[str, str] = {}
    if nats_ok:
        results = await asyncio.gather(
            *(
                state.rpc.call(
                    ping(name), PingRequest(), timeout=state.settings.readiness_timeout_seconds
                )
                for name in SERVICES
            ),
            return_exceptions=True,
        )
        for name, result in zip(SERVICES, results, strict=True):
            services[name] = "ready" if not isinstance(result, BaseException) else _why(result)
    ready = nats_ok and all(status == "ready" for status in services.values())
    if ready:
        return {"status": "ready", "nats": nats_ok, "services": services}
    raise ProblemError(
        503,
        "not-ready",
        "the platform is not ready",
        headers={"Retry-After": "1"},
        nats=nats_ok,
        services=services,
    )


def _why(error: BaseException) -> str:
    return error.message if isinstance(error, RpcError) else type(error).__name__
