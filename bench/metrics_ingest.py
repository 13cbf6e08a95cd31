"""`make bench-metrics`: sustained ingestion of snapshot events from NATS into PostgreSQL.

Needs PostgreSQL (`DATABASE_URL`); NATS at `NATS_URL`, else an embedded nats-server. Everything
lives in a fresh namespace (streams) and a fresh schema (tables), removed afterwards. In one run:

1. `service`: `--events` `PostMetricsObserved` snapshots are published to the metrics stream, then
   the metrics service's own batch consumer (`metrics_snapshots_observed`: decode and validate
   each CloudEvent, drop copies of one event id, check each post's organisation, store snapshots,
   latest values, daily values and rollup marks, commit, then ack every message) drains them.
2. `raw`: the same number of events on a second subject, drained by a bare nats-py pull
   consumer that `json.loads` each and COPYs the rows into one table with asyncpg, acking each
   after the commit, in batches of the service's size: the yardstick of what the machine can do
   at all.
3. `paced`: the service's consumer running while snapshots are published at `--rate` per second
   for `--seconds`; each message carries its send time, and the latency is taken when its
   batch's transaction has committed (before the acks).

It prints events/s of both, their ratio, the CPU time per event each spent in this process (the
consumer: utime + stime) and in its PostgreSQL backend (read from /proc, so only with a local
server; "n/a" otherwise), the load average at the start, and the paced run's p50/p99/max
publish-to-commit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from sqlalchemy import text
from sqlalchemy.engine import make_url

from advocacy_devtools.embedded_nats import EmbeddedNats
from advocacy_metrics.handlers import consumers
from advocacy_metrics.models import messaging, posts
from advocacy_metrics.settings import MetricsSettings
from advocacy_shared.batch_consumers import BatchConsumer, fetch_batch
from advocacy_shared.consumers import RetryPolicy
from advocacy_shared.contracts.metrics import PostMetricsObserved
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.migrations import upgrade
from advocacy_shared.streams import ensure_streams, stream_configs
from advocacy_shared.topology import Topology

SENT = "Bench-Sent"
POSTS = 2000


def cpu_seconds(pid: int | None = None) -> float | None:
    """User plus system CPU time of a process (this one by default), None when /proc lacks it."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().strip()


@dataclasses.dataclass
class CpuMeter:
    """CPU time of the consumer (this process) and of one PostgreSQL backend over a run."""

    backend: int
    consumer_start: float = 0.0
    backend_start: float | None = None

    def start(self) -> CpuMeter:
        self.consumer_start = time.process_time()
        self.backend_start = cpu_seconds(self.backend)
        return self

    def report(self, count: int) -> str:
        consumer = 1e6 * (time.process_time() - self.consumer_start) / count
        end = cpu_seconds(self.backend)
        backend = (
            f"{1e6 * (end - self.backend_start) / count:.0f} µs"
            if end is not None and self.backend_start is not None
            else "n/a"
        )
        return f"CPU per event: consumer {consumer:.0f} µs, PostgreSQL backend {backend}"


async def backend_pid(engine: Any) -> int:
    """The PostgreSQL backend of the engine's (single, reused) pooled connection."""
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def payloads(org: str, post_ids: list[uuid.UUID], count: int, start: int) -> list[bytes]:
    """`count` distinct snapshot events (each its own post and minute)."""
    base = datetime.now(UTC) - timedelta(days=20)
    out = []
    for n in range(start, start + count):
        envelope = CloudEvent(
            source="/bench",
            type=PostMetricsObserved.spec.type,
            data={
                "post_id": str(post_ids[n % len(post_ids)]),
                "observed_at": (base + timedelta(seconds=n)).isoformat(),
                "source": "bench",
                "impressions": 1000 + n % 977,
                "members_reached": 800 + n % 177,
                "reactions": n % 53,
                "comments": n % 11,
                "reshares": n % 7,
            },
            orgid=org,
            correlationid="bench",
        )
        out.append(envelope.to_bytes())
    return out


async def publish_all(nc: Any, subject: str, messages: list[bytes]) -> None:
    for n, payload in enumerate(messages):
        await nc.publish(subject, payload)
        if n % 5000 == 4999:
            await nc.flush()
    await nc.flush()


async def wait_stored(js: JetStreamContext, stream: str, count: int) -> None:
    while True:
        if (await js.stream_info(stream)).state.messages >= count:
            return
        await asyncio.sleep(0.05)


class Timed(BatchConsumer):
    """The service's batch consumer, noting each message's publish-to-commit latency."""

    latencies: list[float]

    async def apply(
        self, messages: list[Msg], decoded: list[tuple[CloudEvent, Any]] | None = None
    ) -> None:
        if decoded is None:  # so that the bench also runs the code before `decoded` existed
            await super().apply(messages)
        else:
            await super().apply(messages, decoded)
        now = time.time()
        for message in messages:
            sent = (message.headers or {}).get(SENT)
            if sent is not None:
                self.latencies.append(now - float(sent))


async def service_consumer(
    url: str, topology: Topology, args: argparse.Namespace
) -> tuple[Timed, Any]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = MetricsSettings(database_url=url, namespace=topology.namespace)
    (consumer,) = [
        c
        for c in consumers.build(
            sessions, messaging.inbox, topology, RetryPolicy.of(settings), after_commit=lambda: None
        )
        if c.durable == "metrics_snapshots_observed"
    ]
    if args.batch or args.inbox:  # the consumer as configured before (for a before/after pair)
        consumer = dataclasses.replace(
            consumer,
            batch_size=args.batch or consumer.batch_size,
            idempotent=consumer.idempotent and not args.inbox,
        )
    runner = Timed(consumer, batch_size=consumer.batch_size, fetch_timeout=0.2)
    runner.latencies = []
    return runner, engine


async def run_service(runner: Timed, js: JetStreamContext, count: int) -> float:
    task = asyncio.create_task(runner.run(js))
    started = time.perf_counter()
    try:
        while runner.stats.applied + runner.stats.duplicates < count:
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        return time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def run_raw(
    dsn: str, schema: str, js: JetStreamContext, stream: str, count: int, batch: int
) -> tuple[float, str]:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    meter = CpuMeter(connection.get_server_pid())
    await connection.execute(
        "CREATE TABLE raw_snapshots (post_id uuid, observed_at timestamptz, source text, "
        "impressions bigint, members_reached bigint, reactions bigint, comments bigint, "
        "reshares bigint)"
    )
    durable = "raw"
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=max(1000, 2 * batch),
        ),
    )
    subscription = await js.pull_subscribe_bind(durable=durable, stream=stream)
    done = 0
    meter.start()
    started = time.perf_counter()
    while done < count:
        messages = await fetch_batch(subscription, batch, 0.2)
        if not messages:
            continue
        rows = []
        for message in messages:
            data = json.loads(message.data)["data"]
            rows.append(
                (
                    uuid.UUID(data["post_id"]),
                    datetime.fromisoformat(data["observed_at"]),
                    data["source"],
                    data["impressions"],
                    data["members_reached"],
                    data["reactions"],
                    data["comments"],
                    data["reshares"],
                )
            )
        async with connection.transaction():
            await connection.copy_records_to_table("raw_snapshots", records=rows)
        for message in messages:
            await message.ack()
        done += len(messages)
    elapsed = time.perf_counter() - started
    cpu = meter.report(count)
    await subscription.unsubscribe()
    await connection.close()
    return elapsed, cpu


async def paced(
    runner: Timed, nc: Any, js: JetStreamContext, subject: str, messages: list[bytes], rate: int
) -> list[float]:
    task = asyncio.create_task(runner.run(js))
    await asyncio.sleep(0.5)
    runner.latencies.clear()
    before = runner.stats.applied
    started = time.perf_counter()
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    sent = 0
    try:
        while sent < len(messages):
            for payload in messages[sent : sent + per_tick]:
                await nc.publish(subject, payload, headers={SENT: repr(time.time())})
            sent += per_tick
            await nc.flush()
            ahead = started + sent / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if runner.stats.applied - before >= len(messages):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return list(runner.latencies)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main_async(args: argparse.Namespace) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        print("bench-metrics needs PostgreSQL: set DATABASE_URL=postgresql://...", file=sys.stderr)
        return 2
    embedded = None
    nats_url = os.environ.get("NATS_URL")
    if nats_url is None:
        embedded = EmbeddedNats(store_dir=Path(tempfile.mkdtemp(prefix="bench-nats-"))).start()
        nats_url = embedded.url
    run_id = uuid.uuid4().hex[:8]
    schema = f"bench_metrics_{run_id}"
    dsn = plain_dsn(database_url)
    url = make_url(database_url).update_query_dict({"schema": schema}).render_as_string(False)
    topology = Topology(f"bench{run_id}")
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    raw_stream = f"BENCH{run_id}_RAW".upper()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await asyncio.to_thread(upgrade, "advocacy_metrics", url, "metrics")
        await ensure_streams(
            js, topology, MetricsSettings(database_url=url, namespace=topology.namespace)
        )
        await js.add_stream(StreamConfig(name=raw_stream, subjects=[f"bench{run_id}.raw.>"]))
        org = str(uuid.uuid4())
        post_ids = [uuid.uuid4() for _ in range(POSTS)]
        published_at = datetime.now(UTC) - timedelta(days=30)
        connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        values = {
            "organisation_id": uuid.UUID(org),
            "leadership": False,
            "source": "manual",
            "published_at": published_at,
            "changed_at": published_at,
        }
        columns = [c.name for c in posts.columns]  # whatever the schema's version has
        await connection.copy_records_to_table(
            posts.name,
            records=[
                tuple(
                    {**values, "post_id": p, "ambassador_id": uuid.uuid4()}.get(c) for c in columns
                )
                for p in post_ids
            ],
            columns=columns,
        )
        await connection.close()
        subject = PostMetricsObserved.spec.subject(topology)
        stream = topology.stream_name(PostMetricsObserved.spec.domain)
        count = args.events

        print(f"publishing {count} events twice (service subject, raw subject) ...", flush=True)
        batch = payloads(org, post_ids, count, 0)
        await publish_all(nc, subject, batch)
        await publish_all(nc, f"bench{run_id}.raw.snapshots", batch)
        await wait_stored(js, stream, count)
        await wait_stored(js, raw_stream, count)
        del batch

        print(f"load average at start: {load_average()}", flush=True)
        runner, engine = await service_consumer(url, topology, args)
        meter = CpuMeter(await backend_pid(engine)).start()
        service_seconds = await run_service(runner, js, count)
        service_cpu = meter.report(count)
        service_rate = count / service_seconds
        print(
            f"service: {count} events in {service_seconds:.2f} s = {service_rate:,.0f} events/s "
            f"({runner.stats.batches} batches of up to {runner.batch_size}, "
            f"{'without' if getattr(runner.consumer, 'idempotent', False) else 'with'} inbox rows, "
            f"{runner.stats.fallbacks} fallbacks)\n         {service_cpu}",
            flush=True,
        )
        raw_seconds, raw_cpu = await run_raw(dsn, schema, js, raw_stream, count, runner.batch_size)
        raw_rate = count / raw_seconds
        print(
            f"raw:     {count} events in {raw_seconds:.2f} s = {raw_rate:,.0f} events/s "
            f"(batches of up to {runner.batch_size}, as the service's)\n         {raw_cpu}"
        )
        print(f"ratio service / raw: {service_rate / raw_rate:.2f}", flush=True)

        paced_count = args.rate * args.seconds
        print(f"paced: {args.rate} events/s for {args.seconds} s ...", flush=True)
        latencies = await paced(
            runner, nc, js, subject, payloads(org, post_ids, paced_count, count), args.rate
        )
        if latencies:
            ms = [1000 * v for v in latencies]
            print(
                f"paced:   {len(ms)} events, publish-to-commit p50 {statistics.median(ms):.1f} ms, "
                f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms"
            )
        await engine.dispose()
        return 0
    finally:
        settings = MetricsSettings(database_url=url)
        for name in [str(c.name) for c in stream_configs(topology, settings)] + [raw_stream]:
            with contextlib.suppress(Exception):  # a stream not created
                await js.delete_stream(name)
        await nc.close()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
        if embedded is not None:
            embedded.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--batch", type=int, default=0, help="batch size (default: the service's own)"
    )
    parser.add_argument(
        "--inbox", action="store_true", help="write inbox rows as non-idempotent batches do"
    )
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
