"""The platform on a 3-node NATS cluster and PostgreSQL, two replicas of every service as separate
processes: work is shared between replicas, and killing a replica and a NATS node in the middle of
a load loses nothing, applies nothing twice and keeps each employee's facts in order.

- **The cluster**: three nats-server processes routed on loopback (`tests/fault/cluster.py`), every
  stream with 3 replicas (`ADVOCACY_STREAM_REPLICAS=3`), every process given all three nodes.
- **Replicas**: `python -m advocacy_<service> serve` twice for the planner, ambassadors, content and
  metrics services and the gateway's webhook process, on their own PostgreSQL schemas.
- **The load**: roster facts (joined, then changed) published through a real outbox and relay onto
  the ambassadors stream; the planner's durable pull consumer (`planner_people`) applies them,
  a version per employee deciding what is newer.
- **What is counted**, from PostgreSQL: a trigger records every write to the planner's copy of an
  employee (in the order the row's lock granted them), the inbox says which events were taken.
  Lost: sent but never taken. Applied twice: one employee's version written more than once. Out
  of order: an employee's version written after a newer one.
- **Sharing**: each NATS node's `/connz` says how many messages each replica's connection received
  (pull consumer) and how many requests each replica's queue subscription answered.

Needs PostgreSQL (`DATABASE_URL=postgresql://...`): the replicas of a service are processes
sharing one database, which SQLite's single writer serialises and would not show.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from uuid import UUID, uuid4

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.roster import EmployeeChanged, EmployeeJoinedRoster
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.db import create_engine
from advocacy_shared.envelope import utc_now
from advocacy_shared.rpc import RpcClient
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fault.cluster import NatsCluster, nats_cluster
from tests.fault.conftest import FaultReport
from tests.fault.processes import ServiceProcess, child_environment
from tests.shared.helpers import eventually
from tests.shared.probe import Probe

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

REPLICAS = 2
SERVICES: dict[str, tuple[str, str, str]] = {
    # process name: (module, database owner, package whose migrations the database holds)
    "planner": ("advocacy_planner", "planner", "advocacy_planner"),
    "ambassadors": ("advocacy_ambassadors", "ambassadors", "advocacy_ambassadors"),
    "content": ("advocacy_content", "content", "advocacy_content"),
    "metrics": ("advocacy_metrics", "metrics", "advocacy_metrics"),
    "webhooks": ("advocacy_gateway.webhooks", "gateway", "advocacy_gateway"),
}
BURST = int(os.environ.get("ADVOCACY_MULTINODE_BURST", "200"))
"""Facts per throughput measurement (one per new employee)."""
EMPLOYEES = 40
STEPS = 5  # facts per employee under the faults: joined, then changed four times
PINGS = 60  # requests per service per node, to show the queue groups share them

RECORD_APPLICATIONS = (
    """CREATE TABLE mn_applications (
        row bigserial PRIMARY KEY,
        employee_id text NOT NULL,
        version integer,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    """CREATE FUNCTION mn_record() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO mn_applications (employee_id, version)
            VALUES (NEW.employee_id::text, NEW.version);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER mn_record AFTER INSERT OR UPDATE ON roster_employees
        FOR EACH ROW EXECUTE FUNCTION mn_record()""",
)
"""Every write to the planner's copy of an employee, in the order the row's lock granted them."""


def roster_fact(employee_id: UUID, step: int) -> EmployeeJoinedRoster | EmployeeChanged:
    facts = {
        "employee_id": employee_id,
        "external_id": f"E-{employee_id.hex[:6]}",
        "active": True,
        "department": f"step-{step}",
        "job_family": "Engineering",
        "hard_to_recruit": False,
        "leadership": False,
        "languages": ["da"],
        "topics": [],
        "version": step + 1,
    }
    if step == 0:
        return EmployeeJoinedRoster(**facts, joined_at=utc_now())
    return EmployeeChanged(**facts, changed_at=utc_now())


@dataclass(frozen=True)
class FaultCounts:
    events: int
    lost: int
    applied_twice: int
    out_of_order: int
    stale_copies: int
    """Employees whose copy does not hold the last fact sent about them."""
    recovery: float


class Platform:
    """The replicas of every service, on one cluster and one namespace."""

    def __init__(
        self, cluster: NatsCluster, namespace: str, databases: dict[str, str], folder: Path
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.replicas: dict[str, list[ServiceProcess]] = {}
        for name, (module, owner, _package) in SERVICES.items():
            env = child_environment(
                {
                    "NATS_URL": cluster.url,
                    "ADVOCACY_NAMESPACE": namespace,
                    f"ADVOCACY_{owner.upper()}_DATABASE_URL": databases[owner],
                    "ADVOCACY_DATA_DIR": str(folder),
                    "ADVOCACY_STREAM_REPLICAS": "3",
                    "ADVOCACY_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
                    "ADVOCACY_CONSUMER_ACK_WAIT_SECONDS": "3",
                }
            )
            self.replicas[name] = [
                ServiceProcess(module, env, folder / f"{name}-{n}.log") for n in range(REPLICAS)
            ]

    def start(self, skip: set[tuple[str, int]] = frozenset()) -> None:  # type: ignore[assignment]
        for name, replicas in self.replicas.items():
            for n, replica in enumerate(replicas):
                if (name, n) not in skip:
                    replica.start()

    def stop(self) -> None:
        for replicas in self.replicas.values():
            for replica in replicas:
                replica.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {r.log.name}\n{r.log.read_text(errors='replace')[-3000:]}"
            for replicas in self.replicas.values()
            for r in replicas
            if r.log.exists()
        )

    def request_subscribers(self, service: str) -> dict[str, int]:
        """Requests each live replica of `service` received on its ping subscription."""
        subject = ping(service).subject(Topology(self.namespace))
        found: dict[str, int] = {}
        for connection in self.cluster.connections(f"advocacy-{service}"):
            subscriptions = connection.get("subscriptions_list_detail") or []
            pings = [s for s in subscriptions if s["subject"] == subject]
            if pings:
                key = f"{connection['node']}/{connection['cid']}"
                found[key] = sum(int(s.get("msgs", 0)) for s in pings)
        return found

    async def ready(self, service: str, replicas: int) -> None:
        """Wait until `replicas` of `service` answer. A replica that exited while starting is
        started again, as the platform's supervisor and Kubernetes do: on a loaded machine a
        JetStream API call of a service's start can time out while the cluster is busy, and the
        service then exits rather than run without a consumer."""

        async def answering() -> bool:
            for replica in self.replicas[service]:
                if replica.process is not None and not replica.alive:
                    replica.start()
            return len(await asyncio.to_thread(self.request_subscribers, service)) >= replicas

        try:
            await eventually(answering, timeout=180, interval=0.5)
        except AssertionError:
            raise AssertionError(f"{service} not ready\n{self.logs()}") from None

    def received(self, service: str) -> dict[str, int]:
        """Messages the server sent each connection of `service`: its pull consumers' deliveries."""
        return {
            f"{c['node']}/{c['cid']}": int(c["out_msgs"])
            for c in self.cluster.connections(f"advocacy-{service}")
        }


@contextmanager
def running(platform: Platform) -> Iterator[Platform]:
    try:
        yield platform
    finally:
        platform.stop()


class Roster:
    """Publishes roster facts through a real outbox and relay; reads what the planner did."""

    def __init__(self, source: Probe, planner: AsyncEngine) -> None:
        self.source = source
        self.planner = planner
        self.organisation_id = uuid4()

    async def publish(self, facts: list[EmployeeJoinedRoster | EmployeeChanged]) -> list[str]:
        async with self.source.transaction() as session:
            organisation_id = self.organisation_id
            envelopes = [await self.source.outbox.add(session, f, organisation_id) for f in facts]
        self.source.relay.wake()
        return [envelope.id for envelope in envelopes]

    async def taken(self, ids: list[str]) -> set[str]:
        async with self.planner.connect() as connection:
            rows = await connection.execute(
                text("SELECT message_id FROM inbox WHERE message_id = ANY(:ids)"), {"ids": ids}
            )
            return set(rows.scalars())

    async def applications(self, employees: list[UUID]) -> list[tuple[str, int, float]]:
        """(employee, version, seconds since the epoch) of every write, in lock order."""
        async with self.planner.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT employee_id, version, extract(epoch FROM at) FROM mn_applications"
                    " WHERE employee_id = ANY(:ids) ORDER BY row"
                ),
                {"ids": [str(e) for e in employees]},
            )
            return [(str(e), int(v), float(t)) for e, v, t in rows]


async def cluster_client(cluster: NatsCluster, node: int | None = None) -> NatsClient:
    servers = cluster.urls if node is None else [cluster.urls[node]]
    return await nats.connect(
        servers, name="advocacy-tests", max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )


@pytest.fixture
async def databases(postgres_url: str | None, make_database: MakeDatabase) -> dict[str, str]:
    if postgres_url is None:
        pytest.skip(
            "the multi-node test needs PostgreSQL (DATABASE_URL=postgresql://...): replicas of a "
            "service are processes sharing one database, which SQLite would serialise"
        )
    owners = {owner: package for _module, owner, package in SERVICES.values()}
    urls = {owner: await make_database(owner, package) for owner, package in owners.items()}
    urls["probe"] = await make_database("probe", None)
    engine = create_engine(urls["planner"])
    async with engine.begin() as connection:
        for statement in RECORD_APPLICATIONS:
            await connection.exec_driver_sql(statement)
    await engine.dispose()
    return urls


async def test_replicas_share_the_work_and_survive_a_replica_and_a_nats_node_killed(
    databases: dict[str, str], namespace: str, tmp_path: Path, fault_report: FaultReport
) -> None:
    topology = Topology(namespace)
    with nats_cluster(tmp_path / "nats") as cluster:
        client = await cluster_client(cluster)
        js = client.jetstream()
        await ensure_streams(js, topology, ServiceSettings(namespace=namespace, stream_replicas=3))
        source = await Probe.create(databases["probe"], topology)
        source.relay.js = js
        relay = asyncio.create_task(source.relay.run())
        planner_db = create_engine(databases["planner"])
        roster = Roster(source, planner_db)
        platform = Platform(cluster, namespace, databases, tmp_path)
        try:
            with running(platform):
                platform.start(skip={("planner", 1)})
                for service in SERVICES:
                    await platform.ready(service, 1 if service == "planner" else REPLICAS)
                one = await measure(roster, platform, replicas=1)
                platform.replicas["planner"][1].start()
                await platform.ready("planner", REPLICAS)
                two = await measure(roster, platform, replicas=2)
                await requests_are_shared(platform, cluster)
                counts = await faults(roster, platform, cluster, client)
        finally:
            relay.cancel()
            await client.close()
            await planner_db.dispose()
            await source.engine.dispose()

    load = os.getloadavg()[0]
    fault_report.note(
        f"multi-node throughput (planner_people, {BURST} facts, PostgreSQL, 3-node NATS, R3): "
        f"1 replica {one[0]:.0f} events/s, 2 replicas {two[0]:.0f} events/s "
        f"(x{two[0] / one[0]:.2f}); shares with 2 replicas {two[1]}; load average {load:.1f}"
    )
    row = fault_report.add(
        "multi-node: planner replica and NATS stream leader killed",
        events=counts.events,
        lost=counts.lost,
        applied_twice=counts.applied_twice,
        out_of_order=counts.out_of_order,
        recovery_seconds=counts.recovery,
    )
    assert (row.lost, row.applied_twice, row.out_of_order) == (0, 0, 0), row
    assert counts.stale_copies == 0, counts
    assert len(two[1]) == REPLICAS, two[1]
    assert min(two[1]) >= BURST // 10, f"the work was not shared between replicas: {two[1]}"


async def measure(roster: Roster, platform: Platform, replicas: int) -> tuple[float, list[int]]:
    """Events per second the planner's replicas apply from a backlog of `BURST` facts, and how
    many messages each replica's connection received meanwhile.

    The replicas are paused (SIGSTOP) while the relay publishes the backlog, so the rate is the
    consumers', not the publisher's: from the first write to the last, in PostgreSQL's clock.
    """
    planners = [r for r in platform.replicas["planner"] if r.alive][:replicas]
    before = await asyncio.to_thread(platform.received, "planner")
    employees = [uuid4() for _ in range(BURST)]
    for planner in planners:
        planner.pause()
    try:
        ids = await roster.publish([roster_fact(e, 0) for e in employees])

        async def published() -> bool:
            return await roster.source.unpublished() == 0

        await eventually(published, timeout=120)
    finally:
        for planner in planners:
            planner.resume()

    async def applied() -> bool:
        return len(await roster.taken(ids)) == len(ids)

    await eventually(applied, timeout=300, interval=0.2)
    writes = await roster.applications(employees)
    seconds = max(t for *_, t in writes) - min(t for *_, t in writes)
    after = await asyncio.to_thread(platform.received, "planner")
    shares = [after[c] - before.get(c, 0) for c in after]
    return len(writes) / max(seconds, 1e-3), shares


async def requests_are_shared(platform: Platform, cluster: NatsCluster) -> None:
    """Pings to every service from a client on each node: both replicas answer some.

    From each node: a queue group prefers subscribers on the publisher's own node, so requests
    from a single node would all reach a replica connected there.
    """
    clients = [await cluster_client(cluster, node) for node in range(len(cluster.nodes))]
    try:
        for service in SERVICES:
            before = await asyncio.to_thread(platform.request_subscribers, service)
            for nc in clients:
                rpc = RpcClient(nc, lambda op: op.subject(Topology(platform.namespace)), 15.0)
                for _ in range(PINGS):
                    await rpc.call(ping(service), PingRequest())
            after = await asyncio.to_thread(platform.request_subscribers, service)
            answered = {key: n - before.get(key, 0) for key, n in after.items()}
            assert len(answered) == REPLICAS, (service, answered)
            assert min(answered.values()) > 0, f"one replica of {service} answered all: {answered}"
    finally:
        for nc in clients:
            await nc.close()


async def faults(
    roster: Roster, platform: Platform, cluster: NatsCluster, client: NatsClient
) -> FaultCounts:
    """Facts paced through the load; a planner replica killed (-9) then started again, then the
    NATS node leading the ambassadors stream killed; counts once everything settled."""
    employees = [uuid4() for _ in range(EMPLOYEES)]
    sent: list[str] = []

    async def emit_all() -> None:
        for step in range(STEPS):
            for employee_id in employees:
                sent.extend(await roster.publish([roster_fact(employee_id, step)]))
                await asyncio.sleep(0.01)

    async def taken_at_least(n: int) -> bool:
        return len(sent) > 0 and len(await roster.taken(sent)) >= n

    emitting = asyncio.create_task(emit_all())
    total = EMPLOYEES * STEPS
    await eventually(lambda: taken_at_least(total // 4), timeout=180)
    victim = platform.replicas["planner"][0]
    victim.kill()
    killed = time.monotonic()
    victim.start()
    await eventually(lambda: taken_at_least(total // 2), timeout=180)
    stream = Topology(platform.namespace).stream_name("ambassadors")
    leader = (await client.jetstream().stream_info(stream)).cluster
    assert leader is not None
    assert leader.leader is not None
    cluster.node(leader.leader).kill()
    await emitting

    async def caught_up() -> bool:
        return len(await roster.taken(sent)) == len(sent)

    try:
        await eventually(caught_up, timeout=300, interval=0.2)
    except AssertionError:
        missing = len(sent) - len(await roster.taken(sent))
        raise AssertionError(f"{missing} facts never taken\n{platform.logs()}") from None
    recovery = time.monotonic() - killed

    async def settled() -> bool:
        try:
            infos = await client.jetstream().consumers_info(stream)
        except nats.errors.TimeoutError:  # the stream's new leader is still being elected
            return False
        return bool(infos) and all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos)

    await eventually(settled, timeout=120)
    writes = await roster.applications(employees)
    return counted_writes(
        [str(e) for e in employees],
        [(employee_id, version) for employee_id, version, _at in writes],
        sent=len(sent),
        taken=len(await roster.taken(sent)),
        recovery=recovery,
    )


def counted_writes(
    employees: list[str], writes: list[tuple[str, int]], *, sent: int, taken: int, recovery: float
) -> FaultCounts:
    """The counts from the writes to each employee's copy (employee, version), in lock order."""
    by_employee: dict[str, list[int]] = {employee_id: [] for employee_id in employees}
    for employee_id, version in writes:
        by_employee[employee_id].append(version)
    return FaultCounts(
        events=sent,
        lost=sent - taken,
        applied_twice=sum(len(v) - len(set(v)) for v in by_employee.values()),
        out_of_order=sum(1 for v in by_employee.values() for a, b in pairwise(v) if a > b),
        stale_copies=sum(1 for v in by_employee.values() if not v or v[-1] != STEPS),
        recovery=recovery,
    )


def test_the_counts_see_a_fact_written_twice_out_of_order_lost_or_stale() -> None:
    """The multi-node test's counts can fail: each fault below shows in its own count."""
    last = STEPS
    writes = [("a", 1), ("a", 2), ("a", 2), ("b", 2), ("b", 1), ("c", 1)]
    counts = counted_writes(["a", "b", "c"], writes, sent=10, taken=9, recovery=0.0)
    assert (counts.lost, counts.applied_twice, counts.out_of_order) == (1, 1, 1)
    assert counts.stale_copies == 3  # none holds the last version
    clean = counted_writes(
        ["a"], [("a", v) for v in range(1, last + 1)], sent=5, taken=5, recovery=0
    )
    assert (clean.lost, clean.applied_twice, clean.out_of_order, clean.stale_copies) == (0, 0, 0, 0)
