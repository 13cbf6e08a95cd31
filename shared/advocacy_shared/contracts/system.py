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


class StatusRequest(RpcRequest):
    pass


class ServiceStatus(RpcReply):
    """What a service reads from its own database for the gateway's `/status`."""

    service: str
    version: str
    outbox_backlog: int
    """Events written but not yet published."""
    oldest_unsent_seconds: float | None
    """Age of the oldest of them; None when there is none."""
    outbox_parked: int = 0
    """Events the relay parked because they can never be published (an operator must act:
    `advocacy deadletters parked SERVICE`). Not counted in the backlog."""


def status(service: str) -> Operation[StatusRequest, ServiceStatus]:
    return Operation(service, "system.status", StatusRequest, ServiceStatus)


SERVICES: tuple[str, ...] = ("planner", "ambassadors", "content", "metrics")
"""The domain services the gateway forwards to; `/status` asks each of them how it does."""

PROCESSES: tuple[str, ...] = (*SERVICES, "webhooks")
"""Every process that answers `system.ping` and `system.status`: the domain services and the
gateway's webhook delivery."""
