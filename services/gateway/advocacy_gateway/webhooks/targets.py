"""Where webhooks may be sent: the platform's one fetch guard (`advocacy_shared.outbound`) with
the gateway's outbound policy.

A target is checked when an endpoint is subscribed and again before every attempt, since DNS can
change; the attempt then connects to the address that was checked (see `Target.pinned_url`), so a
second lookup cannot lead elsewhere.
"""

from __future__ import annotations

from advocacy_gateway.settings import GatewaySettings
from advocacy_shared import outbound
from advocacy_shared.outbound import FetchPolicy, IPAddress, Target, redacted

__all__ = ["IPAddress", "Target", "TargetPolicy", "TargetRefused", "check", "redacted", "resolve"]

TargetRefused = outbound.FetchRefused
TargetPolicy = FetchPolicy


def policy_of(settings: GatewaySettings) -> FetchPolicy:
    """The gateway's outbound policy: webhooks, and the identity providers' endpoints."""
    return FetchPolicy(
        allow_loopback=settings.webhooks_loopback_allowed,
        allow_private=settings.webhooks_allow_private_targets,
        allowed_networks=tuple(settings.outbound_allowed_networks),
    )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses (a seam: tests move a name elsewhere between two checks)."""
    return await outbound.resolve(host, port)


async def check(url: str, policy: FetchPolicy) -> Target:
    """The target of a URL, or TargetRefused naming the reason."""
    parsed = outbound.parse(url)
    port = parsed.port or outbound.DEFAULT_PORTS[parsed.scheme]
    return outbound.judge(parsed, await resolve(parsed.host, port), policy)
