"""Rate limits: a token bucket per resolved caller, and one per source address for the rest.

Who pays for a request:
- a request that authenticates (a route that needs a caller, sent with a credential) is charged
  to the principal it resolves to (`api_key:<id>`, `user:<id>`, `bootstrap:admin`), after
  authentication, in `authenticate`: spellings of one key (`bearer`, `BEARER`) share one bucket;
- a failed authentication is charged to the source address, so random credentials buy nothing;
- every other request (health and readiness, sign-in, single sign-on, invitation pages, a route
  that needs a caller but was sent none) is charged to the source address, in the middleware.

The source address is the peer's, unless the peer is a trusted proxy
(`ADVOCACY_TRUSTED_PROXIES`): then the right-most address of `X-Forwarded-For` that is not
itself a trusted proxy. Behind a proxy every anonymous caller therefore has a bucket of their own;
nobody can pick a fresh bucket by sending the header when the proxy is not trusted.

The buckets live in the gateway process; with several gateway replicas each enforces its own
share (documented in docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advocacy_gateway.problems import ProblemError, send_problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

STATE_KEY = "rate_limit"
"""Where a request's scope state notes that the principal will pay (`pending`) or what it left."""


def credential_of(scope: Scope) -> str:
    """A hash naming the credential a request carries (for idempotency records), else its peer."""
    headers = dict(scope["headers"])
    credential = headers.get(b"authorization") or _cookie(headers.get(b"cookie", b""))
    if not credential:
        client = scope.get("client") or ("unknown", 0)
        credential = f"address:{client[0]}".encode()
    return hashlib.sha256(credential).hexdigest()


def _cookie(header: bytes) -> bytes:
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == b"advocacy_session":
            return b"session:" + value
    return b""


def source_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The address the request comes from: the peer, or what trusted proxies say it is."""
    client = scope.get("client")
    peer = _address(client[0]) if client else None
    if peer is None:
        return "unknown"
    if not _trusted(peer, trusted):
        return str(peer)
    forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
    hops = [_address(hop.strip()) for hop in forwarded.decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop is None:
            break  # a malformed hop: trust nothing further left of it
        if not _trusted(hop, trusted):
            return str(hop)
    return str(peer)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Iterable[Network]
) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """The buckets of one gateway process, least recently used first (bounded in number)."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        trusted_proxies: Sequence[Network] = (),
        max_buckets: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.trusted_proxies = tuple(trusted_proxies)
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str) -> tuple[int, int | None]:
        """Take a token for `key`: the tokens left, and the seconds to wait when there is none."""
        now = time.monotonic()
        bucket = self.buckets.pop(key, None) or Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self.buckets[key] = bucket
        while len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        if bucket.tokens < 1:
            return 0, max(1, math.ceil((1 - bucket.tokens) / self.rate))
        bucket.tokens -= 1
        return int(bucket.tokens), None

    def address_key(self, scope: Scope) -> str:
        return f"address:{source_address(scope, self.trusted_proxies)}"

    def headers(self, remaining: int, retry_after: int | None = None) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"ratelimit-limit", str(self.burst).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        return headers


def charge(scope: Scope, key: str) -> None:
    """In `authenticate`: charge the request to `key` once, or raise a 429 problem."""
    state = scope.setdefault("state", {})
    note = state.get(STATE_KEY)
    if not isinstance(note, _Pending):
        return  # charged already (by the middleware, or by an earlier call for this request)
    remaining, retry_after = note.limiter.take(key)
    state[STATE_KEY] = remaining
    if retry_after is not None:
        raise ProblemError(
            429,
            "rate-limited",
            f"too many requests: retry in {retry_after} s",
            headers={k.decode(): v.decode() for k, v in note.limiter.headers(0, retry_after)},
        )


def charge_failure(scope: Scope) -> None:
    """In `authenticate`, when it fails: the source address pays for the attempt."""
    note = scope.get("state", {}).get(STATE_KEY)
    if isinstance(note, _Pending):
        charge(scope, note.limiter.address_key(scope))


@dataclass(frozen=True)
class _Pending:
    limiter: RateLimiter


class RateLimitMiddleware:
    """Charges the source address for requests without a credential, at once; notes the others
    as pending (`charge_route` and `authenticate` settle them); adds the RateLimit headers."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        retry_after = open_account(self.limiter, scope, has_credential(dict(scope["headers"])))
        if retry_after is not None:
            await self._refuse(scope, send, retry_after)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                message["headers"] = [*headers, *headers_to_add(self.limiter, scope, headers)]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, scope: Scope, send: Send, retry_after: int) -> None:
        await send_problem(
            scope,
            send,
            429,
            "rate-limited",
            f"too many requests: retry in {retry_after} s",
            headers=self.limiter.headers(0, retry_after),
        )


def open_account(limiter: RateLimiter, scope: Scope, credential: bool) -> int | None:
    """At a request's start: one with a credential is noted as pending (`charge_route` and
    `authenticate` settle it), any other is charged to its source address at once. The seconds
    to wait when that charge is refused, else None."""
    state = scope.setdefault("state", {})
    if credential:
        state[STATE_KEY] = _Pending(limiter)
        return None
    remaining, retry_after = limiter.take(limiter.address_key(scope))
    if retry_after is None:
        state[STATE_KEY] = remaining
    return retry_after


def headers_to_add(
    limiter: RateLimiter, scope: Scope, headers: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """At the response's start: the RateLimit headers it lacks. A request that no route settled
    (a 404) pays with its source address now."""
    state = scope.setdefault("state", {})
    if isinstance(state.get(STATE_KEY), _Pending):
        state[STATE_KEY] = limiter.take(limiter.address_key(scope))[0]
    left = state.get(STATE_KEY)
    if not isinstance(left, int) or any(
        name.lower() == b"ratelimit-remaining" for name, _ in headers
    ):
        return []
    return limiter.headers(left)


async def charge_route(request: Request) -> None:
    """An application-wide dependency, run before each route's own: a request that carries a
    credential to a route that never asks who the caller is pays with its source address."""
    note = request.scope.get("state", {}).get(STATE_KEY)
    route = request.scope.get("route")
    if isinstance(note, _Pending) and not (isinstance(route, APIRoute) and _asks_caller(route)):
        charge(request.scope, note.limiter.address_key(request.scope))


def has_credential(headers: dict[bytes, bytes]) -> bool:
    """Whether a request's headers carry an API key or a session cookie."""
    return b"authorization" in headers or bool(_cookie(headers.get(b"cookie", b"")))


_ASKS_CALLER: dict[int, bool] = {}
"""Per route (by identity: routes are neither hashable nor replaced while the app runs)."""


def _asks_caller(route: APIRoute) -> bool:
    known = _ASKS_CALLER.get(id(route))
    if known is None:
        known = _ASKS_CALLER[id(route)] = _needs_caller(route.dependant)
    return known


def _needs_caller(dependant: Dependant) -> bool:
    """Whether the route asks who the caller is (depends, at any depth, on `authenticate` or on
    a dependency that calls it itself, marked `asks_caller`)."""
    from advocacy_gateway.auth import authenticate  # auth imports this module

    return any(
        sub.call is authenticate or getattr(sub.call, "asks_caller", False) or _needs_caller(sub)
        for sub in dependant.dependencies
    )
