"""What one request-reply hop costs: a raw nats-py echo next to the planner's own handlers.

It starts the platform as `bench/gateway.py` does (`advocacy run`; PostgreSQL when `DATABASE_URL`
is set; the NATS server at `NATS_URL`, which it needs), creates an organisation, then sends
requests one after another over plain nats-py, from this process:

- `raw echo`:       to a bare nats-py responder in a process of its own (the floor of a hop),
- `system.ping`:    to the planner, which answers without the database,
- `playbook.get`:   to the planner, which reads the latest playbook version,

and prints, for each, p50, p99 and the CPU time per request of the planner (or the echo process)
and of this client, read from /proc. `--hold SECONDS` keeps the platform running after the
measurements, for `py-spy record --pid <planner pid>` (the pids are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import nats

from advocacy_devtools.embedded_nats import free_port
from advocacy_shared.contracts.planner import GET_PLAYBOOK, GetPlaybook
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.rpc import CORRELATION_HEADER, decode_reply
from advocacy_shared.topology import Topology

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import (  # bench/ is not a package
    BIN,
    CLOCK_TICKS,
    _descendants,
    _label,
    _no_databases,
    _ticks,
    create_tenant,
    nats_namespace,
    platform_env,
    postgres_schemas,
    process,
    wait_until,
)

ECHO = """
import asyncio, sys
import nats

async def main():
    nc = await nats.connect(sys.argv[1])
    async def echo(msg):
        await msg.respond(msg.data)
    await nc.subscribe(sys.argv[2], cb=echo)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


REST_SECONDS = 3.0
"""How long the planner's CPU is read with no request in flight (its relay, pollers, sampler)."""


def _cpu_ms(pid: int) -> float:
    return _ticks(pid) * 1000 / CLOCK_TICKS


async def _loop(
    send: Callable[[], Awaitable[Any]], requests: int, server_pid: int
) -> dict[str, float]:
    for _ in range(min(200, requests)):  # warm-up
        await send()
    server_before, client_before = _cpu_ms(server_pid), time.process_time()
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        await send()
        latencies.append(time.perf_counter() - started)
    server_cpu = (_cpu_ms(server_pid) - server_before) / requests
    client_cpu = (time.process_time() - client_before) * 1000 / requests
    latencies.sort()
    return {
        "p50 ms": statistics.median(latencies) * 1000,
        "p99 ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "server cpu ms": server_cpu,
        "client cpu ms": client_cpu,
    }


async def measure(
    nats_url: str,
    organisation_id: UUID,
    namespace: str,
    planner_pid: int,
    echo_pid: int,
    requests: int,
    only: list[str],
) -> dict[str, dict[str, float]]:
    topology = Topology(namespace)
    nc = await nats.connect(nats_url)
    headers = {CORRELATION_HEADER: "bench"}
    ping_op = ping("planner")
    ping_subject, ping_body = ping_op.subject(topology), PingRequest().model_dump_json().encode()
    read_subject = GET_PLAYBOOK.subject(topology)
    read_body = GetPlaybook(organisation_id=organisation_id).model_dump_json().encode()

    async def raw() -> None:
        await nc.request(f"{namespace}.echo", read_body, timeout=5)

    async def ping_planner() -> None:
        decode_reply(ping_op, (await nc.request(ping_subject, ping_body, 5, headers=headers)).data)

    async def read_playbook() -> None:
        reply = await nc.request(read_subject, read_body, 5, headers=headers)
        decode_reply(GET_PLAYBOOK, reply.data)

    loops = {
        "raw echo": (raw, echo_pid),
        "system.ping": (ping_planner, planner_pid),
        "playbook.get": (read_playbook, planner_pid),
    }
    before = _cpu_ms(planner_pid)
    await asyncio.sleep(REST_SECONDS)
    print(
        f"planner at rest: {(_cpu_ms(planner_pid) - before) / REST_SECONDS:.1f} ms CPU a second",
        flush=True,
    )
    try:
        return {
            name: await _loop(send, requests, pid)
            for name, (send, pid) in loops.items()
            if not only or name in only
        }
    finally:
        await nc.close()


def _planner_pid(root: int) -> int:
    for pid in _descendants(root):
        if _label(pid) == "planner":
            return pid
    raise RuntimeError("no planner process under `advocacy run`")


@contextmanager
def _echo(nats_url: str, subject: str, folder: Path) -> Any:
    with process(
        [sys.executable, "-c", ECHO, nats_url, subject], dict(os.environ), folder / "echo.log"
    ) as echo:
        deadline = time.monotonic() + 30
        while b"ready" not in (folder / "echo.log").read_bytes():
            if time.monotonic() > deadline or echo.poll() is not None:
                raise RuntimeError("the echo responder did not start")
            time.sleep(0.05)
        yield echo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--only", nargs="*", default=[], help="raw echo, system.ping, …")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep running after")
    args = parser.parse_args()
    if "NATS_URL" not in os.environ:
        raise SystemExit("set NATS_URL: this bench talks to the planner over that NATS server")
    database_url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="advocacy-hop-") as temporary:
        folder = Path(temporary)
        with (
            postgres_schemas(database_url) if database_url else _no_databases() as databases,
            nats_namespace() as namespace,
        ):
            port, admin_key = free_port(), secrets.token_urlsafe(32)
            env = platform_env(folder, port, admin_key, databases, namespace)
            with process([str(BIN / "advocacy"), "run"], env, folder / "platform.log") as platform:
                wait_until(f"http://127.0.0.1:{port}/readyz", timeout=120)
                tenant = create_tenant(f"http://127.0.0.1:{port}", admin_key)
                nats_url = os.environ["NATS_URL"]
                planner = _planner_pid(platform.pid)
                with _echo(nats_url, f"{namespace}.echo", folder) as echo:
                    print(f"planner pid {planner}, echo pid {echo.pid}", file=sys.stderr)
                    rows = asyncio.run(
                        measure(
                            nats_url,
                            UUID(tenant.organisation_id),
                            namespace,
                            planner,
                            echo.pid,
                            args.requests,
                            args.only,
                        )
                    )
                    _print(rows)
                    if args.hold:
                        print(f"holding {args.hold} s", file=sys.stderr, flush=True)
                        time.sleep(args.hold)


def _print(rows: dict[str, dict[str, float]]) -> None:
    load_1, load_5, _ = os.getloadavg()
    print(f"load average {load_1:.1f} (1 min) {load_5:.1f} (5 min)")
    print(f"{'request':<14}{'p50 ms':>9}{'p99 ms':>9}{'server cpu ms':>15}{'client cpu ms':>15}")
    for name, row in rows.items():
        print(
            f"{name:<14}{row['p50 ms']:>9.3f}{row['p99 ms']:>9.3f}"
            f"{row['server cpu ms']:>15.3f}{row['client cpu ms']:>15.3f}"
        )


if __name__ == "__main__":
    main()
