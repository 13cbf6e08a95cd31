"""Where webhooks may be sent: protection against server-side request forgery (SSRF).

A target URL is http or https, carries no credentials, and its host resolves only to addresses the
settings allow: never unspecified or multicast ones; loopback only where allowed (development,
tests); private, link-local, reserved and other non-public ones only on a private network that
allows them.
It is checked when an endpoint is subscribed and again before every attempt, since DNS can change;
the attempt then connects to the address that was checked (see `Target.pinned_url`), so a second
lookup cannot lead elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from advocacy_gateway.settings import GatewaySettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
PRIVATE_KINDS = frozenset({"private", "link-local", "reserved", "non-public"})


class TargetRefused(Exception):
    """The URL may not receive webhooks; `reason` is a stable code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class TargetPolicy:
    allow_loopback: bool
    allow_private: bool

    @classmethod
    def of(cls, settings: GatewaySettings) -> TargetPolicy:
        return cls(
            allow_loopback=settings.webhooks_loopback_allowed,
            allow_private=settings.webhooks_allow_private_targets,
        )

    def allows(self, kind: str | None) -> bool:
        """Unspecified and multicast addresses are never allowed; the rest as configured."""
        if kind is None:
            return True
        if kind == "loopback":
            return self.allow_loopback
        return kind in PRIVATE_KINDS and self.allow_private


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses its host resolved to, every one of them allowed."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")

    def pinned_url(self, address: IPAddress) -> httpx.URL:
        """The URL with its host replaced by a checked address (Host and SNI keep the name)."""
        return self.url.copy_with(host=str(address))


def parse(url: str) -> httpx.URL:
    """The URL, if its form may receive webhooks: http(s), a host, no credentials."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise TargetRefused("malformed", f"the URL is malformed: {exc}") from exc
    if parsed.scheme not in SCHEMES:
        raise TargetRefused("scheme", "only http and https URLs may receive webhooks")
    if parsed.userinfo:
        raise TargetRefused("credentials", "the URL may not carry a user name or password")
    if not parsed.host:
        raise TargetRefused("no-host", "the URL names no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise TargetRefused("port", "the URL's port is out of range")
    return parsed


def kind_of(address: IPAddress) -> str | None:
    """What kind of special address this is; None for a public (globally routable) one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, applies in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("multicast", address.is_multicast),
        ("link-local", address.is_link_local),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    ):
        if applies:
            return kind
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to, in the resolver's order, without repeats."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:  # socket.gaierror; UnicodeError for a bad name
        raise TargetRefused("unresolvable", f"the host {host} does not resolve") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def check(url: str, policy: TargetPolicy) -> Target:
    """The target of a URL, or TargetRefused naming the reason.

    A host with any refused address is refused as a whole: a name that resolves to both a public
    and a private address is not one to trust.
    """
    parsed = parse(url)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    addresses = await resolve(parsed.host, port)
    if not addresses:
        raise TargetRefused("unresolvable", f"the host {parsed.host} does not resolve")
    for address in addresses:
        kind = kind_of(address)
        if not policy.allows(kind):
            raise TargetRefused(str(kind), _refusal(parsed.host, address, str(kind)))
    return Target(url=parsed, addresses=tuple(addresses))


def _refusal(host: str, address: IPAddress, kind: str) -> str:
    what = f"{address} is" if host == str(address) else f"{host} resolves to {address},"
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{what} {article} {kind} address, which may not receive webhooks here"


def redacted(url: str) -> str:
    """The URL without its query and fragment, which may carry tokens: for logs and the audit."""
    try:
        return str(httpx.URL(url).copy_with(query=None, fragment=None))
    except httpx.InvalidURL:
        return "<malformed URL>"
