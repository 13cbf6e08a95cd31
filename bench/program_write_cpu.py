"""The planner's CPU for one program's creation, in process: the transaction the RPC server opens
(`ServiceRuntime.transaction`), `create_program` in it, the commit; no NATS, no relay, no
consumers. It runs `--writes` creations one after another against PostgreSQL (`DATABASE_URL`,
a schema of its own, dropped afterwards) or SQLite, and prints the CPU and the wall time per
creation (`time.process_time`, median of `--rounds`), and with `--profile` a cProfile of one
round.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/program_write_cpu.py
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import PROGRAM  # bench/ is not a package

from advocacy_planner.models import messaging, metadata
from advocacy_planner.service import playbook, programs
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import ProgramFields
from advocacy_shared.db import create_engine, read_session_factory, session_factory
from advocacy_shared.outbox import Outbox
from advocacy_shared.topology import Topology


async def measure(url: str, writes: int, rounds: int, profile: bool) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    outbox = Outbox(messaging.outbox, Topology("bench"), source="/advocacy/planner")
    organisation_id = uuid4()
    fact = OrganisationCreated(
        organisation_id=organisation_id,
        name="Bench",
        slug=f"bench-{organisation_id.hex[:8]}",
        created_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await playbook.provision_organisation(session, fact)
    async with read_session_factory(engine)() as session:  # as the bench's GET: kept rows
        await playbook.playbook(session, organisation_id, committed_view=True)
    fields = ProgramFields.model_validate(PROGRAM)

    async def create() -> None:
        async with sessions() as session, session.begin():
            await programs.create_program(session, outbox, organisation_id, fields)

    for _ in range(50):  # warm-up: pool, prepared statements, compiled statements
        await create()
    cpu, wall = [], []
    profiler = cProfile.Profile() if profile else None
    for number in range(rounds):
        if profiler is not None and number == rounds - 1:
            profiler.enable()
        started, started_wall = time.process_time(), time.perf_counter()
        for _ in range(writes):
            await create()
        cpu.append((time.process_time() - started) * 1000 / writes)
        wall.append((time.perf_counter() - started_wall) * 1000 / writes)
    if profiler is not None:
        profiler.disable()
    await engine.dispose()
    load = os.getloadavg()[0]
    print(
        f"create_program: CPU {statistics.median(cpu):.3f} ms, wall {statistics.median(wall):.3f}"
        f" ms per creation (median of {rounds} rounds of {writes}; load {load:.1f})"
    )
    print("  CPU per round:", ", ".join(f"{value:.3f}" for value in cpu))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


async def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    if database_url is None:
        with tempfile.TemporaryDirectory(prefix="advocacy-bench-") as folder:
            sqlite = f"sqlite+aiosqlite:///{folder}/planner.db"
            asyncio.run(measure(sqlite, args.writes, args.rounds, args.profile))
        return
    schema = f"bench_{secrets.token_hex(4)}_planner"
    asyncio.run(_execute(database_url, f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(database_url)
        .update_query_dict({"schema": schema})
        .render_as_string(hide_password=False)
    )
    try:
        asyncio.run(measure(url, args.writes, args.rounds, args.profile))
    finally:
        asyncio.run(_execute(database_url, f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
