"""ASGI middleware of the gateway: correlation ids, the request size limit, metrics and traces."""

from __future__ import annotations

import re
import time
from random import getrandbits

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advocacy_gateway.problems import send_problem
from advocacy_shared.logs import correlation_id_var
from advocacy_shared.telemetry import HTTP_RESPONSES, HTTP_SECONDS, http_method, labelled

CORRELATION_HEADER = b"x-correlation-id"
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class EdgeMiddleware:
    """The outermost layer of the gateway, in this order:

    1. times every request and counts its status by route template (`/api/v1/orgs/{org_id}`,
       never the raw path: no organisation or user id in a label), so it sees every refusal;
    2. takes the caller's X-Correlation-Id (when well formed) or makes one, and echoes it;
    3. refuses bodies over `max_bytes` with a 413 problem, whether declared or streamed.

    One layer, not three: each ASGI layer costs a request a coroutine, a wrapped `send` and, here,
    a copy of the headers; the three as separate middlewares cost 13-15 µs a request, a seventh of
    the gateway's own CPU per RPC read (docs/performance.md, "The eighth round"). The HTTP server
    span is FastAPI's own (its native OpenTelemetry support, on once `advocacy_shared.tracing` has
    set the tracer provider), which continues the caller's `traceparent` and names the span by the
    route template.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        headers = dict(scope["headers"])
        correlation_id = correlation_id_of(headers)
        token = correlation_id_var.set(correlation_id)

        async def send_at_the_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (CORRELATION_HEADER, correlation_id.encode()),
                ]
            await send(message)

        try:
            await self._within_the_size_limit(scope, headers, receive, send_at_the_edge)
        finally:
            correlation_id_var.reset(token)
            count_response(scope, started, status)

    async def _within_the_size_limit(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> None:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        if declared is None and b"transfer-encoding" not in headers:
            # No body (HTTP/1.1 frames one only by these headers; a server hands an empty one):
            # nothing to hold to the limit, and the endpoint reads the same empty message.
            await self.app(scope, receive, send)
            return
        # Read the body here, up to the limit, so that a streamed body without a length is held to
        # the same limit before any endpoint sees it; the endpoint then gets it in one piece.
        chunks: list[bytes] = []
        received = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replay([body], receive), send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_problem(
            scope, send, 413, "body-too-large", f"the request body exceeds {self.max_bytes} bytes"
        )


def correlation_id_of(headers: dict[bytes, bytes]) -> str:
    """The caller's X-Correlation-Id when it is well formed, else a new one."""
    given = headers.get(CORRELATION_HEADER, b"")
    return given.decode() if _SAFE_ID.match(given) else new_correlation_id()


def count_response(scope: Scope, started: float, status: int) -> None:
    """Time and count a response by its route's template (`started`: `time.perf_counter()`)."""
    method, route = http_method(scope["method"]), route_of(scope)
    labelled(HTTP_SECONDS, method, route).observe(time.perf_counter() - started)
    labelled(HTTP_RESPONSES, method, route, str(status)).inc()


def new_correlation_id() -> str:
    """A random version-4 UUID, as `uuid.uuid4()` makes, from the `random` module's generator
    (seeded from the OS, and seeded again in a forked child) rather than a system call and a
    `UUID` object: 1 µs a request instead of 3. A correlation id needs to be unique, not secret:
    the caller is sent it."""
    bits = getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
"""The version (4) and variant (RFC 4122) bits of a UUID, as `uuid.UUID(version=4)` sets them."""


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives the held messages first, then defers to the real one."""
    pending = list(messages)

    async def replaying_receive() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying_receive


UNMATCHED_ROUTE = "unmatched"


def route_of(scope: Scope) -> str:
    """The matched route's template, or `unmatched` (a 404 must not label by its raw path)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE
