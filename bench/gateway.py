"""`make bench`: how fast the gateway answers, next to a bare FastAPI handler on the same stack.

It starts the platform as a newcomer does (`advocacy run`, every service its own process) on
PostgreSQL when `DATABASE_URL` is set (a fresh schema per service, dropped afterwards), else on
SQLite in a temporary folder; on the NATS server at `NATS_URL` when set, else the embedded one. It
creates an organisation and an admin API key, then loads, at 1 and at 64 connections:

- `bare`:         a bare FastAPI handler answering the playbook's body (`bench/bare.py`),
- `rpc read`:     `GET /api/v1/orgs/{id}/playbook` with the API key (gateway → NATS → planner),
- `gateway read`: `GET /api/v1/orgs/{id}` with the API key (the gateway alone),
- `write`:        `POST /api/v1/orgs/{id}/programs` with the API key (gateway → planner, a commit),

each for a bounded number of requests and a bounded time, from a load generator in its own
process (`bench/load.py`), only to 127.0.0.1. It prints req/s, p50, p99 and the ratio of each
throughput to the bare handler's at the same number of connections. The rate limit is raised for
the run (the limiter still runs): the benchmark measures the work, not the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from machine import measure_machine  # bench/ is not a package
from sqlalchemy.engine import make_url

from advocacy_devtools.embedded_nats import free_port

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SCENARIOS = ("bare", "rpc read", "gateway read", "write")
SERVICES = ("gateway", "planner", "ambassadors", "content", "metrics")
PROGRAM = {
    "name": "Benchmark pilot",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation"],
    "disciplines": ["social_selling"],
    "capacity": {"fte_share": 0.5},
    "start_date": "2027-01-04",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    port: int
    method: str
    path: str
    headers: tuple[str, ...] = ()
    body_file: Path | None = None
    expect: int = 200


# --- PostgreSQL: one fresh schema per service ----------------------------------------------------


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: str, statements: list[str]) -> None:
    import asyncpg

    connection = await asyncpg.connect(_plain_dsn(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_schemas(url: str) -> Iterator[dict[str, str]]:
    """`ADVOCACY_<SERVICE>_DATABASE_URL` for each service, in schemas dropped afterwards."""
    run_id = secrets.token_hex(4)
    schemas = {service: f"bench_{run_id}_{service}" for service in SERVICES}
    asyncio.run(_execute(url, [f'CREATE SCHEMA "{schema}"' for schema in schemas.values()]))
    try:
        yield {
            f"ADVOCACY_{service.upper()}_DATABASE_URL": make_url(url)
            .update_query_dict({"schema": schema})
            .render_as_string(hide_password=False)
            for service, schema in schemas.items()
        }
    finally:
        asyncio.run(
            _execute(url, [f'DROP SCHEMA "{schema}" CASCADE' for schema in schemas.values()])
        )


# --- NATS: one fresh namespace per run ----------------------------------------------------------


@contextmanager
def nats_namespace() -> Iterator[str]:
    """A namespace of this run's own: on a NATS server that other platforms share (`NATS_URL`),
    the default one would put this run's planner in the same queue group as theirs, so that its
    requests were answered by their planners (and their databases) and theirs by ours. Its
    streams are deleted afterwards."""
    namespace = f"bench_{secrets.token_hex(4)}"
    try:
        yield namespace
    finally:
        if os.environ.get("NATS_URL"):
            asyncio.run(_delete_streams(os.environ["NATS_URL"], namespace))


async def _delete_streams(url: str, namespace: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await delete_namespace_streams(nc.jetstream(), namespace)
    finally:
        await nc.close()


async def delete_namespace_streams(js: Any, namespace: str) -> None:
    """Every stream of a namespace (the bench's own, on a NATS server it shares)."""
    prefix = f"{namespace}_".upper()
    for stream in await js.streams_info():
        if stream.config.name and stream.config.name.startswith(prefix):
            await js.delete_stream(stream.config.name)


# --- processes -----------------------------------------------------------------------------------


def wait_until(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        child = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def platform_env(
    folder: Path, port: int, admin_key: str, databases: dict[str, str], namespace: str
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("ADVOCACY_")
    }
    return (
        env
        | databases
        | {
            "ADVOCACY_HTTP_PORT": str(port),
            "ADVOCACY_DATA_DIR": str(folder / "data"),
            "ADVOCACY_ADMIN_API_KEY": admin_key,
            "ADVOCACY_NAMESPACE": namespace,
            "ADVOCACY_RATE_LIMIT_PER_MINUTE": str(10**9),
            "ADVOCACY_RATE_LIMIT_BURST": str(10**9),
        }
    )


# --- the set-up through the API ------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    organisation_id: str
    api_key: str
    playbook: bytes


def create_tenant(base_url: str, admin_key: str) -> Tenant:
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base_url, headers=admin, timeout=10) as http:
        created = http.post("/api/v1/orgs", json={"name": "Benchmark Ltd"})
        created.raise_for_status()
        organisation_id = created.json()["id"]
        key = http.post(
            f"/api/v1/orgs/{organisation_id}/api-keys", json={"name": "bench", "scopes": ["admin"]}
        )
        key.raise_for_status()
        api_key = key.json()["key"]
        # The planner seeds the playbook when the organisation's event reaches it.
        deadline = time.monotonic() + 30
        while True:
            playbook = http.get(
                f"/api/v1/orgs/{organisation_id}/playbook",
                headers={"Authorization": f"Bearer {api_key}"},
            )
            if playbook.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        playbook.raise_for_status()
    return Tenant(organisation_id, api_key, playbook.content)


# --- CPU per request, per process ----------------------------------------------------------------
#
# Wall-clock figures swing with whatever else runs on the machine; the CPU time each process spends
# per request does much less. It is read from /proc (Linux) before and after each scenario.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(child) for child in text]
    return found


def _descendants(pid: int) -> list[int]:
    pending, seen = [pid], []
    while pending:
        current = pending.pop()
        seen.append(current)
        pending += _children(current)
    return seen


def _label(pid: int) -> str | None:
    """`gateway`, `planner`, … for `python -m advocacy_<name> serve`; `nats-server`; else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [word.decode(errors="replace") for word in argv if word]
    if "-m" in words[:-1]:
        module = words[words.index("-m") + 1]
        return module.removeprefix("advocacy_").replace(".", " ")
    if words and Path(words[0]).name == "nats-server":
        return "nats-server"
    if len(words) > 1 and Path(words[1]).parent == BENCH:
        return Path(words[1]).stem  # bench/bare.py
    return None


def _ticks(pid: int) -> int:
    """User plus system CPU time of a process, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def cpu_by_process(roots: list[int]) -> dict[str, int]:
    """CPU ticks so far of each labelled process under `roots` (same labels summed), of the
    PostgreSQL backends serving them and of a nats-server outside them (at `NATS_URL`)."""
    totals: dict[str, int] = {}
    ours = [pid for root in roots for pid in _descendants(root)]
    for pid in ours:
        label = _label(pid)
        if label is not None:
            totals[label] = totals.get(label, 0) + _ticks(pid)
    for label, pids in (
        ("postgres", _postgres_backends(_local_ports(ours))),
        ("nats-server", [] if "nats-server" in totals else _nats_server()),
    ):
        if pids:
            totals[label] = sum(_ticks(pid) for pid in pids)
    return totals


def _local_ports(pids: list[int]) -> set[int]:
    """The local TCP ports of the sockets the processes `pids` hold open."""
    inodes: set[str] = set()
    for pid in pids:
        with suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _postgres_backends(client_ports: set[int]) -> list[int]:
    """PostgreSQL backends (local server) whose client is one of `client_ports`: their process
    title ends in `127.0.0.1(<port>) <state>`."""
    found = []
    for pid, argv in _cmdlines():
        if argv.startswith(b"postgres: "):
            match = re.search(rb"\((\d+)\)", argv)
            if match is not None and int(match.group(1)) in client_ports:
                found.append(pid)
    return found


def _nats_server() -> list[int]:
    """The process listening on `NATS_URL`'s port (other nats-servers may come and go)."""
    url = os.environ.get("NATS_URL")
    port = make_url(url.replace("nats://", "nats+x://", 1)).port if url else None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid, argv in _cmdlines():
        if Path(argv.split(b"\0")[0].decode(errors="replace")).name == "nats-server":
            with suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                    return [pid]
    return []


def _cmdlines() -> Iterator[tuple[int, bytes]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                yield int(entry.name), (entry / "cmdline").read_bytes()


def _children_ticks() -> int:
    """CPU ticks of the waited-for child processes so far (the load generator's runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * CLOCK_TICKS)


def cpu_ms_per_request(
    before: dict[str, int], after: dict[str, int], requests: int
) -> dict[str, float]:
    return {
        label: round((after[label] - before.get(label, 0)) * 1000 / CLOCK_TICKS / requests, 3)
        for label in after
        if requests
    }


# --- load ----------------------------------------------------------------------------------------


def load(scenario: Scenario, connections: int, requests: int, seconds: float) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(BENCH / "load.py"),
        f"--port={scenario.port}",
        f"--method={scenario.method}",
        f"--path={scenario.path}",
        f"--connections={connections}",
        f"--requests={requests}",
        f"--seconds={seconds}",
        f"--warmup={max(100, requests // 20)}",
        f"--expect={scenario.expect}",
        *(f"--header={header}" for header in scenario.headers),
    ]
    if scenario.body_file is not None:
        argv.append(f"--body-file={scenario.body_file}")
    done = subprocess.run(argv, capture_output=True, check=True, timeout=2 * seconds + 60)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def table(rows: list[dict[str, Any]]) -> str:
    header = f"{'scenario':<14}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'p99/p50':>9}{'x bare':>8}{'errors':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['scenario']:<14}{row['connections']:>6}{row['rps']:>10.0f}"
            f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['p99_ms'] / row['p50_ms']:>9.1f}"
            f"{row['ratio']:>8.2f}{row['errors']:>8}"
        )
    return "\n".join(lines)


def cpu_table(rows: list[dict[str, Any]]) -> str:
    """CPU milliseconds per request of each process (the processes that moved at all)."""
    labels = sorted({label for row in rows for label, ms in row["cpu_ms"].items() if ms > 0})
    widths = [max(len(label), 7) + 2 for label in labels]
    header = f"{'scenario':<14}{'conns':>6}"
    header += "".join(f"{label:>{width}}" for label, width in zip(labels, widths, strict=True))
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = "".join(
            f"{row['cpu_ms'].get(label, 0.0):>{width}.3f}"
            for label, width in zip(labels, widths, strict=True)
        )
        lines.append(f"{row['scenario']:<14}{row['connections']:>6}{cells}")
    return "\n".join(lines)


def measure(
    scenarios: list[Scenario],
    connection_counts: list[int],
    requests: dict[int, int],
    seconds: float,
    roots: list[int],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for connections in connection_counts:
        bare_rps = 0.0
        for scenario in scenarios:
            before = cpu_by_process(roots)
            before["load generator"] = _children_ticks()
            result = load(scenario, connections, requests[connections], seconds)
            after = cpu_by_process(roots)
            after["load generator"] = _children_ticks()
            served = result["requests"] + result["warmup_requests"]
            result["cpu_ms"] = cpu_ms_per_request(before, after, served)
            result["cpu_ms"]["all"] = round(sum(result["cpu_ms"].values()), 3)
            if scenario.name == "bare":
                bare_rps = result["rps"]
            ratio = result["rps"] / bare_rps if bare_rps else float("nan")
            rows.append({"scenario": scenario.name, "connections": connections, "ratio": ratio})
            rows[-1].update(result)
            print(f"  {scenario.name} at {connections}: {result}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--requests-1", type=int, default=3000, help="per scenario, 1 connection")
    parser.add_argument("--requests-n", type=int, default=20000, help="per scenario, more")
    parser.add_argument("--seconds", type=float, default=8.0, help="at most, per scenario")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="which to load (the ratio needs `bare`)",
    )
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    machine = measure_machine()
    print(machine.line(), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="advocacy-bench-") as temporary:
        folder = Path(temporary)
        with (
            postgres_schemas(database_url) if database_url else _no_databases() as databases,
            nats_namespace() as namespace,
        ):
            rows = run_bench(folder, databases, namespace, args)
    backend = "PostgreSQL" if database_url else "SQLite"
    nats = "NATS at NATS_URL" if os.environ.get("NATS_URL") else "embedded nats-server"
    load_1, load_5, _ = os.getloadavg()
    print(
        f"\n`make bench` on {backend}, {nats}, {os.cpu_count()} cores, "
        f"load average {load_1:.1f} (1 min) {load_5:.1f} (5 min) at the end;\n"
        f"before the platform started, {machine.line()}\n"
    )
    print(table(rows))
    print("\nCPU time per request, ms, by process (user + system, from /proc):\n")
    print(cpu_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


@contextmanager
def _no_databases() -> Iterator[dict[str, str]]:
    yield {}


def run_bench(
    folder: Path, databases: dict[str, str], namespace: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    port, bare_port = free_port(), free_port()
    admin_key = secrets.token_urlsafe(32)
    env = platform_env(folder, port, admin_key, databases, namespace)
    base_url = f"http://127.0.0.1:{port}"
    print("starting the platform (`advocacy run`)…", file=sys.stderr, flush=True)
    with process([str(BIN / "advocacy"), "run"], env, folder / "platform.log") as platform:
        try:
            wait_until(f"{base_url}/readyz", timeout=120)
        except RuntimeError:
            print((folder / "platform.log").read_text()[-4000:], file=sys.stderr)
            raise
        tenant = create_tenant(base_url, admin_key)
        body_file = folder / "playbook.json"
        body_file.write_bytes(tenant.playbook)
        program_file = folder / "program.json"
        program_file.write_text(json.dumps(PROGRAM))
        bare_argv = [sys.executable, str(BENCH / "bare.py"), f"--port={bare_port}"]
        bare_argv.append(f"--body-file={body_file}")
        with process(bare_argv, dict(os.environ), folder / "bare.log") as bare:
            wait_until(f"http://127.0.0.1:{bare_port}/healthz", timeout=30)
            auth = f"Authorization: Bearer {tenant.api_key}"
            org = f"/api/v1/orgs/{tenant.organisation_id}"
            scenarios = [
                Scenario("bare", bare_port, "GET", "/bare"),
                Scenario("rpc read", port, "GET", f"{org}/playbook", (auth,)),
                Scenario("gateway read", port, "GET", org, (auth,)),
                Scenario(
                    "write",
                    port,
                    "POST",
                    f"{org}/programs",
                    (auth, "Content-Type: application/json"),
                    program_file,
                    expect=201,
                ),
            ]
            scenarios = [scenario for scenario in scenarios if scenario.name in args.scenarios]
            requests = {n: args.requests_1 if n == 1 else args.requests_n for n in args.connections}
            print(f"body: {len(tenant.playbook)} bytes; loading…", file=sys.stderr, flush=True)
            roots = [platform.pid, bare.pid]
            return measure(scenarios, args.connections, requests, args.seconds, roots)


if __name__ == "__main__":
    main()
