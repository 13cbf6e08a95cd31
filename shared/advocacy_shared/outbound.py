"""The one guard for every server-side fetch: webhooks, OpenID Connect (discovery, key sets, the
token endpoint) and the LinkedIn adapter. Protection against server-side request forgery (SSRF).

A URL is fetched only when it is http or https, carries no credentials, and its host resolves only
to addresses the policy allows: never unspecified or multicast ones; loopback only where allowed
(development, tests); private, link-local, reserved and other non-public ones only on a private
network that allows them; any address inside `allowed_networks` (an internal identity provider, the
LinkedIn sandbox on loopback). IPv6 addresses that embed an IPv4 one (IPv4-mapped and -compatible,
6to4 `2002::/16`, Teredo, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`) are judged by what they embed
as well. A host with any refused address is refused as a whole.

The fetch then connects to an address that was checked (`Target.pinned_url`, with the name kept in
`Host` and in TLS's SNI and certificate check), so a second lookup cannot lead elsewhere (DNS
rebinding); redirects are never followed and no proxy is taken from the environment. Failures are
generic: they never echo the target's status, body or URL to whoever configured it (an oracle on
the internal network); the reason code is for logs.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
PRIVATE_KINDS = frozenset({"private", "link-local", "reserved", "non-public"})
NAT64_NETWORKS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class FetchRefused(Exception):
    """The URL may not be fetched. `reason` is a stable code; the message says why, in terms of
    the URL's form and address kinds only (it was the caller's own input)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class FetchFailed(Exception):
    """The fetch was allowed but did not succeed; deliberately says nothing about the answer."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_loopback: bool = False
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = field(default=())

    def allows(self, address: IPAddress) -> bool:
        """Unspecified and multicast addresses are never allowed, unless listed explicitly."""
        if any(_within(address, network) for network in self.allowed_networks):
            return True
        kind = kind_of(address)
        if kind is None:
            return True
        if kind == "loopback":
            return self.allow_loopback
        return kind in PRIVATE_KINDS and self.allow_private


def _within(address: IPAddress, network: Network) -> bool:
    return address.version == network.version and address in network


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
    """The URL, if its form may be fetched: http(s), a host, no credentials."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise FetchRefused("malformed", "the URL is malformed") from exc
    if parsed.scheme not in SCHEMES:
        raise FetchRefused("scheme", "only http and https URLs may be used")
    if parsed.userinfo:
        raise FetchRefused("credentials", "the URL may not carry a user name or password")
    if not parsed.host:
        raise FetchRefused("no-host", "the URL names no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchRefused("port", "the URL's port is out of range")
    return parsed


def embedded(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 one embeds (mapped, compatible, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if _translated(address):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _translated(address: IPAddress) -> bool:
    """An IPv6 address that only stands for an IPv4 one: judged by that address alone."""
    if not isinstance(address, ipaddress.IPv6Address):
        return False
    return (
        address.ipv4_mapped is not None
        or (address in IPV4_COMPATIBLE and int(address) > 1)  # not :: nor ::1
        or any(address in network for network in NAT64_NETWORKS)
    )


SEVERITY = ("unspecified", "loopback", "multicast", "link-local", "reserved", "private")


def kind_of(address: IPAddress) -> str | None:
    """What kind of special address this is, or embeds (the worst of them); None for public."""
    judged = [*([] if _translated(address) else [address]), *embedded(address)]
    kinds = [_kind(each) for each in judged]
    for kind in SEVERITY:
        if kind in kinds:
            return kind
    return next((kind for kind in kinds if kind is not None), None)


def _kind(address: IPAddress) -> str | None:
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


def _addresses(infos: Iterable[Sequence[Any]]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to, in the resolver's order, without repeats."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:  # socket.gaierror; UnicodeError for a bad name
        raise FetchRefused("unresolvable", f"the host {host} does not resolve") from exc
    return _addresses(infos)


def resolve_sync(host: str, port: int) -> list[IPAddress]:
    """`resolve` for synchronous callers (the LinkedIn adapter's worker threads)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise FetchRefused("unresolvable", f"the host {host} does not resolve") from exc
    return _addresses(infos)


def judge(parsed: httpx.URL, addresses: Sequence[IPAddress], policy: FetchPolicy) -> Target:
    """The target, when every address is allowed; else FetchRefused naming the address kind."""
    if not addresses:
        raise FetchRefused("unresolvable", f"the host {parsed.host} does not resolve")
    for address in addresses:
        if not policy.allows(address):
            kind = kind_of(address) or "refused"
            raise FetchRefused(kind, _refusal(parsed.host, address, kind))
    return Target(url=parsed, addresses=tuple(addresses))


async def check(url: str, policy: FetchPolicy) -> Target:
    """The target of a URL, or FetchRefused naming the reason."""
    parsed = parse(url)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    return judge(parsed, await resolve(parsed.host, port), policy)


def check_sync(url: str, policy: FetchPolicy) -> Target:
    parsed = parse(url)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    return judge(parsed, resolve_sync(parsed.host, port), policy)


def _refusal(host: str, address: IPAddress, kind: str) -> str:
    what = f"{address} is" if host == str(address) else f"{host} resolves to {address},"
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{what} {article} {kind} address, which may not be reached from here"


def redacted(url: str) -> str:
    """The URL without its query and fragment, which may carry tokens: for logs and the audit."""
    try:
        return str(httpx.URL(url).copy_with(query=None, fragment=None))
    except httpx.InvalidURL:
        return "<malformed URL>"


@functools.cache
def _verifying_tls() -> ssl.SSLContext:
    """The TLS context httpx would make for a client (certifi's CA bundle, the environment's
    TLS variables ignored), made once per process: loading the bundle costs about 25 ms of CPU
    per client, and one context serves any number of clients."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_client(timeout: float, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client fit for `fetch`: no redirects, no proxy from the environment, and no kept
    connections (one kept for a name could carry another name's request to the same address
    without its TLS check). A client without a transport of its own (none given, or None) gets
    the process's one verifying TLS context."""
    if kwargs.get("transport") is None:
        kwargs.setdefault("verify", _verifying_tls())
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        **kwargs,
    )


MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    """An answer: its status, headers and at most `max_bytes` of its body."""

    status_code: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def send(
    client: httpx.AsyncClient,
    target: Target,
    method: str,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    **kwargs: Any,
) -> Fetched:
    """Send to the checked addresses in the resolver's order until one accepts the connection.
    Reads at most `max_bytes` of the body (0: none; a longer one is FetchFailed); transport
    errors propagate (the caller words them)."""
    refused: httpx.ConnectError | None = None
    headers = {**kwargs.pop("headers", {}), "host": target.host_header}
    for address in target.addresses:
        try:
            async with client.stream(
                method,
                target.pinned_url(address),
                headers=headers,
                extensions={"sni_hostname": target.url.host},
                **kwargs,
            ) as response:
                body = await _read(response, max_bytes) if max_bytes else b""
                return Fetched(response.status_code, response.headers, body)
        except httpx.ConnectError as exc:
            refused = exc
    assert refused is not None
    raise refused


async def _read(response: httpx.Response, max_bytes: int) -> bytes:
    received = bytearray()
    async for chunk in response.aiter_bytes():
        received += chunk
        if len(received) > max_bytes:
            raise FetchFailed("the answer is too long")
    return bytes(received)


async def fetch(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy, method: str = "GET", **kwargs: Any
) -> Fetched:
    """Check the URL, then fetch it from a checked address. FetchRefused when the URL may not be
    fetched; FetchFailed, saying nothing more, when it cannot be reached or answers too much."""
    target = await check(url, policy)
    try:
        return await send(client, target, method, **kwargs)
    except (httpx.HTTPError, OSError) as exc:
        raise FetchFailed(type(exc).__name__) from exc
