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
3. `paced`: the service's consumer running in this process while another process (so that
   neither delays the other on one event loop) publishes snapshots at `--rate` per second for
   `--seconds`; each message carries its send time, and the latency is taken when its batch's
   transaction has committed (before the acks). Before it, `os.sync()` writes out what the
   first two parts left in the kernel's page cache (400 000 rows in PostgreSQL and as many
   messages in JetStream's store, by default): otherwise the kernel writes them back about 30 s
   after they were written (`vm.dirty_expire_centisecs`), which is during the paced part, in
   bursts of over 100 MB/s that stall PostgreSQL's WAL flushes for 40-120 ms (docs/metrics.md,
   "Seventh pass"). A steady stream's own write-back is part of what it measures when
   `--seconds` is over 30. `--no-sync` skips it.

The service's events/s is also printed for each `--window` events (100 000) stored, from an empty
table on, with the last window's rate against the first's (`--events 1000000`: flat to a million
stored snapshots); the raw pipeline runs on `--raw-events` of them (at most 200 000 by default)
and the ratio takes the service's rate over as many. The PostgreSQL settings that bear on a
commit's cost and on pauses (fsync, synchronous_commit, autovacuum, ...) are printed first.
`--writers N` overrides the consumer's batch writers (the service's own: `SNAPSHOT_WRITERS`).

It prints events/s of both, their ratio, the CPU time per event each spent in this process (the
consumer: utime + stime) and in its PostgreSQL backend (read from /proc, so only with a local
server; "n/a" otherwise), the load average at the start, and the paced run's p50/p99/max
publish-to-commit, split into the wait until its batch's write began and the write itself, with
how far the publisher fell behind its schedule and the consumer's garbage-collector pauses.
Everything runs on uvloop, as the services do (`advocacy_shared.service_main.run`); `--loop
asyncio` runs on asyncio's own loop, and `--no-freeze` runs the consumer without freezing the
start-up heap (`freeze_start_up`), as before.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import nats
import uvloop
from machine import measure_machine  # bench/ is not a package
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


def backends_cpu(pids: list[int]) -> float | None:
    """CPU seconds of these PostgreSQL backends together, None when /proc lacks one."""
    seconds = [cpu_seconds(pid) for pid in pids]
    return None if any(s is None for s in seconds) else sum(s or 0.0 for s in seconds)


@dataclasses.dataclass
class CpuMeter:
    """CPU time of the consumer (this process) and of its PostgreSQL backends over a run."""

    backends: list[int]
    consumer_start: float = 0.0
    backend_start: float | None = None

    def start(self) -> CpuMeter:
        self.consumer_start = time.process_time()
        self.backend_start = backends_cpu(self.backends)
        return self

    def report(self, count: int) -> str:
        consumer = 1e6 * (time.process_time() - self.consumer_start) / count
        end = backends_cpu(self.backends)
        backend = (
            f"{1e6 * (end - self.backend_start) / count:.0f} µs"
            if end is not None and self.backend_start is not None
            else "n/a"
        )
        return (
            f"CPU per event: consumer {consumer:.0f} µs, PostgreSQL "
            f"{'backend' if len(self.backends) == 1 else f'{len(self.backends)} backends'} "
            f"{backend}"
        )


async def backend_pids(engine: Any, count: int) -> list[int]:
    """The PostgreSQL backends of the engine's pool, `count` connections held at once (the
    writers' number): the pool lends those same connections to the consumer's sessions."""
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(count)]
        return [int(await c.scalar(text("SELECT pg_backend_pid()"))) for c in connections]


SERVER_SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "commit_delay",
    "full_page_writes",
    "shared_buffers",
    "checkpoint_timeout",
    "max_wal_size",
    "autovacuum",
)


async def server_settings(connection: asyncpg.Connection) -> str:
    """The PostgreSQL settings that bear on a commit's cost and on pauses, as the run had them."""
    rows = await connection.fetch(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
        list(SERVER_SETTINGS),
    )
    found = {r["name"]: r["setting"] + (f" {r['unit']}" if r["unit"] else "") for r in rows}
    return ", ".join(f"{name}={found[name]}" for name in SERVER_SETTINGS if name in found)


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


PUBLISH_CHUNK = 50_000


async def publish_events(
    nc: Any, subjects: list[tuple[str, int]], org: str, post_ids: list[uuid.UUID]
) -> None:
    """The first `count` events to each subject, made a chunk at a time (a million events'
    payloads would hold about half a gigabyte at once)."""
    for start in range(0, max(count for _, count in subjects), PUBLISH_CHUNK):
        for subject, count in subjects:
            if start < count:
                size = min(PUBLISH_CHUNK, count - start)
                await publish_all(nc, subject, payloads(org, post_ids, size, start))


async def wait_stored(js: JetStreamContext, stream: str, count: int) -> None:
    while True:
        if (await js.stream_info(stream)).state.messages >= count:
            return
        await asyncio.sleep(0.05)


class Latencies:
    """Seconds from publish to commit of each event, and its two parts: until the batch's write
    began (NATS, the fetch, the previous batch's write), and the write itself (the statement and
    the commit); and of the first, until NATS stored it in the stream (its JetStream
    timestamp: the publisher's flush and nats-server's store). Kept in arrays of doubles, which
    the garbage collector does not track: a list of a tuple per event made the consumer's full
    collections scan hundreds of thousands of the bench's own objects in a long paced run."""

    def __init__(self) -> None:
        self.total = array("d")
        self.waited = array("d")
        self.write = array("d")
        self.stored = array("d")

    def __len__(self) -> int:
        return len(self.total)

    def add(self, total: float, waited: float, write: float, stored: float) -> None:
        self.total.append(total)
        self.waited.append(waited)
        self.write.append(write)
        self.stored.append(stored)


class Timed(BatchConsumer):
    """The service's batch consumer, noting each message's publish-to-commit latency."""

    latencies: Latencies

    async def apply(
        self, messages: list[Msg], decoded: list[tuple[CloudEvent, Any]] | None = None
    ) -> None:
        began = time.time()
        if decoded is None:  # so that the bench also runs the code before `decoded` existed
            await super().apply(messages)
        else:
            await super().apply(messages, decoded)
        now = time.time()
        for message in messages:
            sent = (message.headers or {}).get(SENT)
            if sent is not None:
                at = float(sent)
                stored = message.metadata.timestamp.timestamp() - at
                self.latencies.add(now - at, began - at, now - began, stored)


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
    # `writers` only when asked, so that the bench also runs the code before it existed
    more = {"writers": args.writers} if args.writers else {}
    runner = Timed(consumer, batch_size=consumer.batch_size, fetch_timeout=0.2, **more)
    runner.freeze_heap = not args.no_freeze
    runner.latencies = Latencies()
    return runner, engine


async def run_service(
    runner: Timed, js: JetStreamContext, count: int, window: int
) -> list[tuple[int, float]]:
    """Drain `count` events; returns (events stored, seconds since the start) at the end of
    each `window` events (as polled every 10 ms) and at the end."""
    task = asyncio.create_task(runner.run(js))
    started = time.perf_counter()
    marks: list[tuple[int, float]] = []
    try:
        while (done := runner.stats.applied + runner.stats.duplicates) < count:
            if done >= (len(marks) + 1) * window:
                marks.append((done, time.perf_counter() - started))
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        marks.append((done, time.perf_counter() - started))
        return marks
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def rate_at(marks: list[tuple[int, float]], count: int) -> tuple[int, float]:
    """Events/s over the first `count` events or a little more (the first mark at or past it),
    and how many those were."""
    done, seconds = next((d, s) for d, s in marks if d >= count)
    return done, done / seconds


def report_windows(marks: list[tuple[int, float]]) -> str:
    """Events/s in each window, from an empty table on, and the last full window's against the
    first's: flat when it keeps 90 % of it."""
    rates, before = [], (0, 0.0)
    for done, seconds in marks:
        if done > before[0]:
            rates.append((before[0], done, (done - before[0]) / (seconds - before[1])))
        before = (done, seconds)
    lines = [f"  {a:>9,}-{b:>9,} stored: {r:,.0f} events/s" for a, b, r in rates]
    full = [r for r in rates if r[1] - r[0] >= (rates[0][1] - rates[0][0]) * 0.99]
    if len(full) < 2:
        return "\n".join(lines)
    ratio = full[-1][2] / full[0][2]
    verdict = "flat" if ratio >= 0.9 else "NOT flat"
    return "\n".join(
        [*lines, f"  last window / first window: {ratio:.2f} ({verdict}: flat means >= 0.90)"]
    )


async def run_raw(
    dsn: str, schema: str, js: JetStreamContext, stream: str, count: int, batch: int
) -> tuple[float, str]:
    connection = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    meter = CpuMeter([connection.get_server_pid()])
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


def publish_paced(
    nats_url: str,
    subject: str,
    org: str,
    post_ids: list[str],
    span: tuple[int, int],
    rate: int,
    results: Connection,
) -> None:
    """The paced publisher, in a process of its own (`multiprocessing`), so that its delays and
    the consumer's work do not share one event loop: `span` (first, count) events at `rate` per
    second, each stamped with its send time just before it is published. Sends back how late
    the publisher ran against its schedule (seconds), at each tick.

    A tick's messages leave with nats-py's flusher task, which `publish` wakes; an explicit
    `flush()` each tick (a PING and a wait for its PONG, a thousand a second) cost the publisher
    and nats-server enough CPU to put the publisher itself up to 30 ms behind its schedule."""
    results.send(uvloop.run(_publish_paced(nats_url, subject, org, post_ids, span, rate)))
    results.close()


async def _publish_paced(
    nats_url: str, subject: str, org: str, post_ids: list[str], span: tuple[int, int], rate: int
) -> list[float]:
    messages = payloads(org, [uuid.UUID(p) for p in post_ids], span[1], span[0])
    nc = await nats.connect(nats_url)
    lateness = []
    per_tick = max(1, rate // 1000)  # a tick a millisecond: close to a steady stream
    sent = 0
    started = time.perf_counter()
    try:
        while sent < len(messages):
            lateness.append(time.perf_counter() - (started + sent / rate))
            for payload in messages[sent : sent + per_tick]:
                await nc.publish(subject, payload, headers={SENT: repr(time.time())})
            sent += per_tick
            ahead = started + sent / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await nc.flush()
    finally:
        await nc.close()
    return lateness


@dataclasses.dataclass
class GcPauses:
    """The garbage collector's pauses in this process while counting: full collections (the
    oldest generation) and the others."""

    pauses: list[float] = dataclasses.field(default_factory=list)
    full: list[float] = dataclasses.field(default_factory=list)
    _began: float = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            pause = time.perf_counter() - self._began
            (self.full if info["generation"] == 2 else self.pauses).append(pause)


class LoopLag:
    """How late this process's event loop woke from 5 ms sleeps while counting (its lag: time it
    was busy or not scheduled), and the main thread's time waiting for a CPU on the kernel's run
    queue (`/proc/self/schedstat`), which tells a loop that was busy from one that was not run."""

    INTERVAL = 0.005

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.run_queue_ms = 0.0
        self._task: asyncio.Task[None] | None = None
        self._queued_ns = 0

    async def __aenter__(self) -> LoopLag:
        self._queued_ns = self._queued()
        self._task = asyncio.create_task(self._probe())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.run_queue_ms = (self._queued() - self._queued_ns) / 1e6

    async def _probe(self) -> None:
        while True:
            asleep = time.perf_counter()
            await asyncio.sleep(self.INTERVAL)
            self.lags.append(max(0.0, time.perf_counter() - asleep - self.INTERVAL))

    @staticmethod
    def _queued() -> int:
        try:
            return int(Path("/proc/self/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0


async def paced(
    runner: Timed, nats_url: str, js: JetStreamContext, subject: str, publisher: dict[str, Any]
) -> tuple[Latencies, list[float], GcPauses, LoopLag]:
    """The consumer in this process, the publisher in another; returns each event's latencies,
    the publisher's lateness at each tick, this process's GC pauses and its event loop's lag."""
    task = asyncio.create_task(runner.run(js))
    await asyncio.sleep(0.5)  # the consumer's first (waiting) fetch is out
    runner.latencies = Latencies()
    before = runner.stats.applied
    receiving, sending = multiprocessing.get_context("spawn").Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=publish_paced,
        kwargs={**publisher, "nats_url": nats_url, "subject": subject, "results": sending},
    )
    count = publisher["span"][1]
    try:
        async with LoopLag() as lag:
            with GcPauses() as pauses:
                process.start()
                sending.close()
                lateness = await asyncio.to_thread(receiving.recv)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if runner.stats.applied - before >= count:
                        break
                    await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(process.join, 30)
        if process.is_alive():  # the publisher hangs: do not wait for it
            process.terminate()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return runner.latencies, lateness, pauses, lag


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spread(values: list[float]) -> str:
    """p50 / p99 / max of seconds, in milliseconds."""
    if not values:
        return "none"
    ms = [1000 * v for v in values]
    return (
        f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


def report_paced(
    latencies: Latencies, lateness: list[float], pauses: GcPauses, batches: int, lag: LoopLag
) -> str:
    if not latencies:
        return "paced:   no event committed"
    return (
        f"paced:   {len(latencies)} events in {batches} batches, publish-to-commit "
        f"{spread(list(latencies.total))}\n"
        f"         of which waiting for the write {spread(list(latencies.waited))} "
        f"(until stored in the stream {spread(list(latencies.stored))}); "
        f"the write {spread(list(latencies.write))}\n"
        f"         publisher behind its schedule {spread(lateness)}; "
        f"consumer's GC: {len(pauses.full)} full collections, {spread(pauses.full)}; "
        f"{len(pauses.pauses)} others, {spread(pauses.pauses)}\n"
        f"         consumer's event loop late by {spread(lag.lags)}; its thread waited "
        f"{lag.run_queue_ms:.0f} ms in all for a CPU"
    )


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
        raw_count = min(count, args.raw_events)

        print(f"publishing {count} events (service subject), {raw_count} (raw subject) ...")
        print(f"PostgreSQL: {await server_settings(admin)}", flush=True)
        raw_subject = f"bench{run_id}.raw.snapshots"
        await publish_events(nc, [(subject, count), (raw_subject, raw_count)], org, post_ids)
        await wait_stored(js, stream, count)
        await wait_stored(js, raw_stream, raw_count)

        print(f"load average at start: {load_average()}; event loop: {args.loop}", flush=True)
        runner, engine = await service_consumer(url, topology, args)
        writers = runner._writers() if hasattr(runner, "_writers") else 1
        meter = CpuMeter(await backend_pids(engine, writers)).start()
        marks = await run_service(runner, js, count, args.window)
        service_cpu = meter.report(count)
        service_seconds = marks[-1][1]
        print(
            f"service: {count} events in {service_seconds:.2f} s = "
            f"{count / service_seconds:,.0f} events/s "
            f"({runner.stats.batches} batches of up to {runner.batch_size}, {writers} writers, "
            f"{'without' if getattr(runner.consumer, 'idempotent', False) else 'with'} inbox rows, "
            f"{runner.stats.fallbacks} fallbacks)\n         {service_cpu}",
            flush=True,
        )
        print(f"service events/s per {args.window:,} events stored, from an empty table:")
        print(report_windows(marks), flush=True)
        service_count, service_rate = rate_at(marks, raw_count)
        raw_seconds, raw_cpu = await run_raw(
            dsn, schema, js, raw_stream, raw_count, runner.batch_size
        )
        raw_rate = raw_count / raw_seconds
        print(
            f"raw:     {raw_count} events in {raw_seconds:.2f} s = {raw_rate:,.0f} events/s "
            f"(batches of up to {runner.batch_size}, as the service's)\n         {raw_cpu}"
        )
        print(
            f"ratio service / raw: {service_rate / raw_rate:.2f} (the service over its first "
            f"{service_count} events: {service_rate:,.0f} events/s)",
            flush=True,
        )

        if not args.no_sync:
            began = time.perf_counter()
            await asyncio.to_thread(os.sync)
            print(f"os.sync() before the paced part: {time.perf_counter() - began:.2f} s")
        paced_count = args.rate * args.seconds
        print(
            f"paced: {args.rate} events/s for {args.seconds} s, published from a process of "
            f"its own; load average {load_average()} ...",
            flush=True,
        )
        batches_before = runner.stats.batches
        latencies, lateness, pauses, lag = await paced(
            runner,
            nats_url,
            js,
            subject,
            {
                "org": org,
                "post_ids": [str(p) for p in post_ids],
                "span": (count, paced_count),
                "rate": args.rate,
            },
        )
        print(report_paced(latencies, lateness, pauses, runner.stats.batches - batches_before, lag))
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
    parser.add_argument(
        "--raw-events",
        type=int,
        default=200_000,
        help="events of the raw pipeline (at most --events); the ratio takes the service's rate "
        "over as many",
    )
    parser.add_argument(
        "--window", type=int, default=100_000, help="events per window of the flatness figures"
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=0,
        help="batches written at once (default: the service's own, SNAPSHOT_WRITERS)",
    )
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--batch", type=int, default=0, help="batch size (default: the service's own)"
    )
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the heap to the full GC passes, as before"
    )
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="no os.sync() before the paced part (the first parts' write-back then falls in it)",
    )
    parser.add_argument(
        "--inbox", action="store_true", help="write inbox rows as non-idempotent batches do"
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the event loop (uvloop: the services' own, `advocacy_shared.service_main.run`)",
    )
    args = parser.parse_args()
    print(measure_machine().line(), flush=True)
    sys.exit(on_loop(args.loop, main_async(args)))


def on_loop(loop: str, main: Coroutine[Any, Any, Any]) -> Any:
    """Run `main` on uvloop, as the services run, or on asyncio's own loop."""
    if loop == "uvloop":
        return uvloop.run(main)
    return asyncio.run(main)


if __name__ == "__main__":
    main()
