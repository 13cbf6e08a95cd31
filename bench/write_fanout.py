"""Where a write's CPU goes: each process's CPU at rest, and per `POST …/programs` after it.

It starts the platform as `bench/gateway.py` does (`advocacy run`; PostgreSQL when `DATABASE_URL`
is set, the NATS server at `NATS_URL` when set), creates an organisation, then:

1. reads each process's CPU for `--rest` seconds with nothing sent: the cost of its pollers,
   relay and consumers' pull requests, per second;
2. sends `--requests` program creations one after another (one connection, httpx), waits until
   every process is back at rest (its events consumed), and prints each process's CPU per write,
   with and without its CPU at rest for the same wall time subtracted, and the p50 of the writes.

`--alone` stops (SIGSTOP) every process but the gateway and the planner while the writes are
timed, and lets them go on afterwards: the p50 is then the request's own (the planner's relay
still publishes), apart from the fan-out's competition for the CPU.

`--hold SECONDS` keeps the platform running afterwards, for `py-spy record --pid <pid>` (the pids
are printed), with `--background-writes` writes per second sent meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import (  # bench/ is not a package
    BIN,
    CLOCK_TICKS,
    PROGRAM,
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
from machine import measure_machine  # bench/ is not a package

from advocacy_devtools.embedded_nats import free_port


def cpu_ms(pids: dict[str, list[int]]) -> dict[str, float]:
    return {
        label: sum(_ticks(pid) for pid in group) * 1000 / CLOCK_TICKS
        for label, group in pids.items()
    }


def system_ms(pids: dict[str, list[int]]) -> dict[str, float]:
    """The system (kernel) part of `cpu_ms`: on loopback, mostly sockets (each round trip)."""

    def ticks(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[12])
        except OSError:
            return 0

    return {
        label: sum(ticks(pid) for pid in group) * 1000 / CLOCK_TICKS
        for label, group in pids.items()
    }


REQUEST_PATH = frozenset({"gateway", "planner"})


def signal_all(pids: list[int], number: signal.Signals) -> None:
    for pid in pids:
        os.kill(pid, number)


def labelled(root: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for pid in _descendants(root):
        label = _label(pid)
        if label is not None:
            found.setdefault(label, []).append(pid)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rest", type=float, default=10.0)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--background-writes", type=float, default=20.0)
    parser.add_argument("--alone", action="store_true", help="stop the consumers while timed")
    args = parser.parse_args()
    print(measure_machine().line(), flush=True)
    database_url = os.environ.get("DATABASE_URL")
    with (
        tempfile.TemporaryDirectory(prefix="advocacy-bench-") as temporary,
        postgres_schemas(database_url) if database_url else _no_databases() as databases,
        nats_namespace() as namespace,
    ):
        folder = Path(temporary)
        port, admin_key = free_port(), "bench-admin-key-" + os.urandom(8).hex()
        env = platform_env(folder, port, admin_key, databases, namespace)
        base_url = f"http://127.0.0.1:{port}"
        with process([str(BIN / "advocacy"), "run"], env, folder / "platform.log") as platform:
            wait_until(f"{base_url}/readyz", timeout=120)
            tenant = create_tenant(base_url, admin_key)
            try:
                run(platform.pid, base_url, tenant.organisation_id, tenant.api_key, args)
            except Exception:
                print((folder / "platform.log").read_text()[-6000:], file=sys.stderr)
                raise


def run(
    root: int, base_url: str, organisation_id: str, api_key: str, args: argparse.Namespace
) -> None:
    pids = labelled(root)
    print("pids:", json.dumps(pids), file=sys.stderr, flush=True)
    headers = {"Authorization": f"Bearer {api_key}"}
    path = f"/api/v1/orgs/{organisation_id}/programs"
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        for _ in range(20):  # warm-up (the planner may still be starting: a 503 is retried)
            http.post(path, json=PROGRAM)
        time.sleep(10)  # every process done starting (the webhook process starts last)
        start, before = time.monotonic(), cpu_ms(pids)
        time.sleep(args.rest)
        rest_seconds = time.monotonic() - start
        at_rest = {k: (v - before[k]) / rest_seconds for k, v in cpu_ms(pids).items()}
        start, before, system_before = time.monotonic(), cpu_ms(pids), system_ms(pids)
        paused = [
            pid for label, group in pids.items() if label not in REQUEST_PATH for pid in group
        ]
        if args.alone:
            signal_all(paused, signal.SIGSTOP)
        took = []
        for _ in range(args.requests):
            sent = time.perf_counter()
            answer = http.post(path, json=PROGRAM)
            if answer.status_code != 201:
                raise RuntimeError(f"{answer.status_code}: {answer.text}")
            took.append((time.perf_counter() - sent) * 1000)
        if args.alone:
            signal_all(paused, signal.SIGCONT)
        settle = 8.0 if args.alone else 2.0
        time.sleep(settle)  # the events' consumers finish
        elapsed = time.monotonic() - start
        after, system_after = cpu_ms(pids), system_ms(pids)
        load_1, _, _ = os.getloadavg()
        print(
            f"{args.requests} writes in {elapsed - settle:.1f} s, "
            f"p50 {statistics.median(took):.2f} ms, "
            f"p99 {sorted(took)[int(len(took) * 0.99)]:.2f} ms, load {load_1:.1f}"
        )
        print(
            f"{'process':<26}{'at rest ms/s':>14}{'ms/write':>10}{'less rest':>11}"
            f"{'of it system':>14}"
        )
        for label in sorted(pids):
            spent = after[label] - before[label]
            per = spent / args.requests
            less = (spent - at_rest[label] * elapsed) / args.requests
            system = (system_after[label] - system_before[label]) / args.requests
            print(f"{label:<26}{at_rest[label]:>14.2f}{per:>10.3f}{less:>11.3f}{system:>14.3f}")
        if args.hold:
            print("holding; pids:", json.dumps(pids), flush=True)
            stop = time.monotonic() + args.hold
            gap = 1.0 / args.background_writes if args.background_writes else args.hold
            while time.monotonic() < stop:
                if args.background_writes:
                    http.post(path, json=PROGRAM).raise_for_status()
                time.sleep(gap)


if __name__ == "__main__":
    main()
