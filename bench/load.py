"""A small HTTP/1.1 load generator: N keep-alive connections to 127.0.0.1, each sending one
request after another, for a bounded number of requests and a bounded time.

It runs in its own process (`bench/gateway.py` starts it), on uvloop when installed, and speaks
raw HTTP/1.1 over asyncio protocols: an HTTP client library would cost more per request than the
servers it measures. Prints one JSON object: requests, errors, statuses, seconds, req/s, p50, p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

HOST = "127.0.0.1"  # only ever loopback: this tool never reaches another machine


class Connection(asyncio.Protocol):
    """One keep-alive connection; `exchange` sends a request and returns the response's status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by this load generator")
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buffer[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


@dataclass
class Budget:
    """Shared by every connection: how many requests may still start, and until when."""

    remaining: int
    deadline: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    def take(self) -> bool:
        if self.remaining <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.remaining -= 1
        return True


async def drive(port: int, request: bytes, budget: Budget, expect: int) -> None:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(Connection, HOST, port)
    try:
        while budget.take():
            started = time.perf_counter()
            try:
                status = await connection.exchange(request)
            except ConnectionError:
                budget.errors += 1
                return
            budget.latencies.append(time.perf_counter() - started)
            budget.statuses[status] += 1
            if status != expect:
                budget.errors += 1
    finally:
        assert connection.transport is not None
        connection.transport.close()


async def run(
    port: int, request: bytes, connections: int, requests: int, seconds: float, expect: int
) -> Budget:
    budget = Budget(remaining=requests, deadline=time.perf_counter() + seconds)
    await asyncio.gather(*(drive(port, request, budget, expect) for _ in range(connections)))
    return budget


def build_request(method: str, path: str, headers: list[str], body: bytes, port: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", *headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


async def main_async(args: argparse.Namespace, body: bytes) -> dict[str, object]:
    request = build_request(args.method, args.path, args.header, body, args.port)
    warmed = 0
    if args.warmup:
        warmup = await run(
            args.port, request, args.connections, args.warmup, args.seconds, args.expect
        )
        warmed = len(warmup.latencies)
    started = time.perf_counter()
    budget = await run(
        args.port, request, args.connections, args.requests, args.seconds, args.expect
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(budget.latencies)
    return {
        "requests": len(latencies),
        "warmup_requests": warmed,
        "errors": budget.errors,
        "statuses": {str(code): count for code, count in budget.statuses.items()},
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", required=True)
    parser.add_argument("--header", action="append", default=[], help="`Name: value`")
    parser.add_argument("--body-file")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000, help="at most this many")
    parser.add_argument("--seconds", type=float, default=10.0, help="and at most this long")
    parser.add_argument("--warmup", type=int, default=200, help="requests sent first, not counted")
    parser.add_argument("--expect", type=int, default=200, help="any other status is an error")
    args = parser.parse_args()
    body = Path(args.body_file).read_bytes() if args.body_file else b""
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(main_async(args, body))
    else:
        result = uvloop.run(main_async(args, body))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
