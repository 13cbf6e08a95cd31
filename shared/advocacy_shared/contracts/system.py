"""Operations every service answers, whatever its domain."""

from __future__ import annotations

from advocacy_shared.contracts.base import Operation, RpcReply, RpcRequest


class PingRequest(RpcRequest):
    pass


class Pong(RpcReply):
    service: str
    version: str


def ping(service: str) -> Operation[PingRequest, Pong]:
    return Operation(service, "system.ping", PingRequest, Pong)


SERVICES: tuple[str, ...] = ("planner", "ambassadors", "content", "metrics")
"""The domain services the gateway forwards to; `/readyz` pings each of them."""
