"""What an ordinary consumer costs per event, in process: FastStream's subscriber
(`EventConsumer.attach`) against the pull loop services run (`OneAtATimeConsumer`), the same
consumer and handler in both (its inbox row and one insert, in a transaction, acked after the
commit), alternated in rounds, one process, so both see the same machine.

Each round publishes `--events` events one at a time, each after the one before was applied (as
a write's event reaches a consumer at one connection: alone), and prints the process's CPU per
event (`time.process_time`: the publisher's share is the same in both) and the wall time from a
publish to its application. PostgreSQL at `DATABASE_URL` (a schema of its own, dropped
afterwards) or SQLite; the NATS server at `NATS_URL` or an embedded one.

    NATS_URL=nats://127.0.0.1:4222 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/consumer_cpu.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
from faststream.nats import NatsBroker
from sqlalchemy import Column, Integer, MetaData, String, Table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_devtools.embedded_nats import EmbeddedNats
from advocacy_shared.batch_consumers import OneAtATimeConsumer
from advocacy_shared.consumers import EventConsumer, EventConsumers, RetryPolicy
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent, new_id, utc_now
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import delete_namespace_streams  # bench/ is not a package

metadata = MetaData()
tables = messaging_tables(metadata)
applied = Table(
    "applied",
    metadata,
    Column("row", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("organisation_id", String(64), nullable=False),
)
WAYS = ("faststream subscriber", "pull loop")


class Bench:
    def __init__(self, database_url: str, nats_url: str) -> None:
        self.engine = create_engine(database_url)
        self.sessions = session_factory(self.engine)
        self.nats_url = nats_url
        self.topology = Topology(f"bench_{secrets.token_hex(4)}")
        self.seen = 0
        self.arrived = asyncio.Event()

    async def handler(self, session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
        await session.execute(
            applied.insert().values(event_id=envelope.id, organisation_id=envelope.orgid)
        )
        self.seen += 1
        self.arrived.set()

    def consumer(self, durable: str) -> EventConsumer:
        async def handler(session: AsyncSession, fact: Any, envelope: CloudEvent) -> None:
            await self.handler(session, fact, envelope)

        handler.__name__ = durable
        consumers = EventConsumers("bench")
        consumers.on(OrganisationCreated)(handler)
        (consumer,) = consumers.build(
            self.sessions, tables.inbox, self.topology, RetryPolicy(), after_commit=lambda: None
        )
        return consumer

    async def round(self, way: str, number: int, events: int) -> tuple[float, float]:
        """CPU ms per event, and the median ms from a publish to its application."""
        nc = await nats.connect(self.nats_url)
        js = nc.jetstream()
        consumer = self.consumer(f"{way.replace(' ', '_')}_{number}")
        await consumer.ensure(js)
        broker: NatsBroker | None = None
        loop: asyncio.Task[None] | None = None
        if way == "pull loop":
            runner = await OneAtATimeConsumer.start(consumer, js)
            loop = asyncio.create_task(runner.run())
        else:
            broker = NatsBroker(  # as `ServiceRuntime` builds it: per-message logs at DEBUG
                self.nats_url,
                logger=logging.getLogger("bench.broker"),
                log_level=logging.DEBUG,
            )
            consumer.attach(broker)
            await broker.start()
        subject = OrganisationCreated.spec.subject(self.topology)
        latencies = []
        try:
            await self._one(js, subject)  # warm-up: the first fetch, the statements
            started = time.process_time()
            for _ in range(events):
                sent = time.perf_counter()
                await self._one(js, subject)
                latencies.append((time.perf_counter() - sent) * 1000)
            cpu = (time.process_time() - started) * 1000 / events
        finally:
            if loop is not None:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            if broker is not None:
                await broker.stop()
            await nc.close()
        return cpu, statistics.median(latencies)

    async def _one(self, js: Any, subject: str) -> None:
        expected = self.seen + 1
        organisation = uuid4()
        fact = OrganisationCreated(
            organisation_id=organisation,
            name="Bench",
            slug=f"bench-{organisation.hex[:8]}",
            created_at=utc_now(),
        )
        event = CloudEvent(
            source="/advocacy/bench",
            type=fact.spec.type,
            data=fact.model_dump(mode="json"),
            orgid=str(organisation),
            correlationid=new_id(),
        )
        await js.publish(subject, event.to_bytes(), headers={"Nats-Msg-Id": new_id()})
        while self.seen < expected:
            self.arrived.clear()
            await self.arrived.wait()


async def measure(database_url: str, nats_url: str, events: int, rounds: int) -> None:
    bench = Bench(database_url, nats_url)
    async with bench.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    nc = await nats.connect(nats_url)
    await ensure_streams(
        nc.jetstream(), bench.topology, ServiceSettings(namespace=bench.topology.namespace)
    )
    results: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    try:
        for number in range(rounds):
            order = WAYS if number % 2 == 0 else WAYS[::-1]
            for way in order:
                results[way].append(await bench.round(way, number, events))
                cpu, wall = results[way][-1]
                print(f"  round {number + 1}, {way}: CPU {cpu:.3f} ms/event, p50 {wall:.2f} ms")
    finally:
        await delete_namespace_streams(nc.jetstream(), bench.topology.namespace)
        await nc.close()
        await bench.engine.dispose()
    load = os.getloadavg()[0]
    print(f"\n{events} events a round, {rounds} rounds, load average {load:.1f} at the end:")
    for way, rows in results.items():
        cpu = statistics.median(row[0] for row in rows)
        wall = statistics.median(row[1] for row in rows)
        print(f"  {way:22} CPU {cpu:.3f} ms/event (median), publish to applied p50 {wall:.2f} ms")


async def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


@contextlib.contextmanager
def _database(database_url: str | None) -> Iterator[str]:
    if database_url is None:
        with tempfile.TemporaryDirectory(prefix="advocacy-bench-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/consumer.db"
        return
    schema = f"bench_{secrets.token_hex(4)}_consumer"
    asyncio.run(_execute(database_url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(database_url)
            .update_query_dict({"schema": schema})
            .render_as_string(hide_password=False)
        )
    finally:
        asyncio.run(_execute(database_url, f'DROP SCHEMA "{schema}" CASCADE'))


@contextlib.contextmanager
def _nats() -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    with (
        tempfile.TemporaryDirectory(prefix="advocacy-bench-nats-") as folder,
        EmbeddedNats(Path(folder)) as server,
    ):
        yield server.url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300, help="per round and way")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with _database(os.environ.get("DATABASE_URL")) as database_url, _nats() as nats_url:
        asyncio.run(measure(database_url, nats_url, args.events, args.rounds))


if __name__ == "__main__":
    main()
