"""Rate limits per credential: a token bucket per API key, session or client address.

The buckets live in the gateway process; with several gateway replicas each enforces its own
share (documented in docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advocacy_gateway.problems import send_problem


def credential_of(scope: Scope) -> str:
    """A hash naming who sends the request: its bearer token or session cookie, else its address."""
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


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, per_minute: int, burst: int, max_buckets: int = 100_000
    ) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_buckets = max_buckets
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/scim/")):
            await self.app(scope, receive, send)
            return
        bucket = self._bucket(credential_of(scope))
        if bucket.tokens < 1:
            await self._refuse(scope, send, math.ceil((1 - bucket.tokens) / self.rate))
            return
        bucket.tokens -= 1
        remaining = int(bucket.tokens)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"ratelimit-limit", str(self.burst).encode()),
                    (b"ratelimit-remaining", str(remaining).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _bucket(self, key: str) -> Bucket:
        now = time.monotonic()
        bucket = self.buckets.pop(key, None) or Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self.buckets[key] = bucket
        while len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)
        return bucket

    async def _refuse(self, scope: Scope, send: Send, retry_after: int) -> None:
        await send_problem(
            scope,
            send,
            429,
            "rate-limited",
            f"too many requests: retry in {retry_after} s",
            headers=[
                (b"retry-after", str(retry_after).encode()),
                (b"ratelimit-limit", str(self.burst).encode()),
                (b"ratelimit-remaining", b"0"),
            ],
        )
