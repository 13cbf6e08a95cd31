"""What the RPC client's request path costs in CPU: nats-py's `request` next to the client's own
reply inbox (`advocacy_shared.rpc._Replies`), against a bare nats-py responder in a process of
its own that answers each request with its payload, without headers (as `RpcServing` answers).

Not a test: it prints the client's and the responder's CPU time per request (`time.process_time`
and /proc), at 1 request in flight (nothing to batch: each request is its own write and its reply
its own read) and at 64. Needs a NATS server: `NATS_URL` (default nats://127.0.0.1:4222).

    .venv/bin/python bench/rpc_client.py [--requests 4000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
import uvloop
from nats.aio.client import Client as NatsClient

from advocacy_shared.rpc import CORRELATION_HEADER, _Replies

RESPONDER = """
import asyncio, sys
import nats, uvloop

async def main():
    nc = await nats.connect(sys.argv[1])
    async def answer(msg):
        await nc.publish(msg.reply, msg.data)
    await nc.subscribe(sys.argv[2], cb=answer)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()

uvloop.run(main())
"""
PAYLOAD = b'{"organisation_id":"48642b82-807c-4152-a4a3-9a69f5252fe8","version":null}'


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def measure(
    send: Callable[[], Awaitable[object]], in_flight: int, requests: int, responder: int
) -> str:
    async def worker(count: int) -> None:
        for _ in range(count):
            await send()

    await asyncio.gather(*(worker(max(1, 200 // in_flight)) for _ in range(in_flight)))
    client, served = time.process_time(), cpu_ms(responder)
    await asyncio.gather(*(worker(requests // in_flight) for _ in range(in_flight)))
    client_us = (time.process_time() - client) * 1e6 / requests
    served_us = (cpu_ms(responder) - served) * 1e3 / requests
    return f"client {client_us:4.0f} µs, responder {served_us:4.0f} µs"


async def run(args: argparse.Namespace, url: str, subject: str, responder: int) -> None:
    nc: NatsClient = await nats.connect(url)
    replies = await _Replies.open(nc)
    headers = {CORRELATION_HEADER: secrets.token_hex(16)}
    paths: dict[str, Callable[[], Awaitable[object]]] = {
        "nats-py request": lambda: nc.request(subject, PAYLOAD, timeout=5, headers=headers),
        "client's inbox": lambda: replies.request(nc, subject, PAYLOAD, 5.0, headers),
    }
    print(f"CPU per request, {args.requests} requests a figure:")
    for _ in range(args.rounds):
        for in_flight in (1, 64):
            for name, send in paths.items():
                figure = await measure(send, in_flight, args.requests, responder)
                print(f"{name:<16} {in_flight:>3} in flight: {figure}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} (1 min)")
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    subject = f"bench_{secrets.token_hex(4)}.rpc.echo"
    argv = [sys.executable, "-c", RESPONDER, url, subject]
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as responder:
        try:
            assert responder.stdout is not None
            responder.stdout.readline()
            uvloop.run(run(args, url, subject, responder.pid))
        finally:
            responder.kill()


if __name__ == "__main__":
    main()
