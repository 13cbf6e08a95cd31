"""kill -9 of the planner, a real `python -m advocacy_planner serve` process, while roster events
flow to it through the real backbone (an outbox and its relay, JetStream, the planner's durable
consumer and inbox); then it is started again, as a supervisor would.

Counted from the planner's own database: an event is applied when its inbox row exists (written
in the transaction that applies it); an employee is out of order when their copy does not hold
the last fact sent about them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import text

from advocacy_devtools.testing import MakeDatabase
from advocacy_shared.contracts.roster import EmployeeChanged, EmployeeJoinedRoster
from advocacy_shared.db import create_engine
from advocacy_shared.envelope import utc_now
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import ensure_streams
from advocacy_shared.topology import Topology
from tests.fault.conftest import FaultReport
from tests.fault.processes import child_environment, service_process
from tests.shared.helpers import eventually
from tests.shared.probe import Probe

pytestmark = pytest.mark.timeout(600)  # processes restarted under load

EMPLOYEES = 30
STEPS = 4  # facts per employee: joined, then changed three times


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
        "version": step + 1,  # as the roster publishes them: a redelivered older fact is stale
    }
    if step == 0:
        return EmployeeJoinedRoster(**facts, joined_at=utc_now())
    return EmployeeChanged(**facts, changed_at=utc_now())


async def test_kill_9_of_the_planner_during_a_load_loses_nothing_and_applies_once(
    nats_server_url: str,
    nats_client: NatsClient,
    make_database: MakeDatabase,
    topology: Topology,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    await ensure_streams(
        nats_client.jetstream(), topology, ServiceSettings(namespace=topology.namespace)
    )
    source = await Probe.create(await make_database("probe", None), topology)  # the publisher
    source.relay.js = nats_client.jetstream()
    relay = asyncio.create_task(source.relay.run())
    planner_url = await make_database("planner", "advocacy_planner")
    planner_db = create_engine(planner_url)
    organisation_id = uuid4()
    employees = [uuid4() for _ in range(EMPLOYEES)]
    sent: list[str] = []

    async def applied() -> list[str]:
        async with planner_db.connect() as connection:
            return list((await connection.execute(text("SELECT message_id FROM inbox"))).scalars())

    async def emit_all() -> None:
        for step in range(STEPS):
            for employee_id in employees:
                async with source.transaction() as session:
                    fact = roster_fact(employee_id, step)
                    sent.append((await source.outbox.add(session, fact, organisation_id)).id)
                source.relay.wake()
                await asyncio.sleep(0.01)

    try:
        env = child_environment(
            {
                "NATS_URL": nats_server_url,
                "ADVOCACY_NAMESPACE": topology.namespace,
                "ADVOCACY_PLANNER_DATABASE_URL": planner_url,
                "ADVOCACY_DATA_DIR": str(tmp_path),
                "ADVOCACY_CONSUMER_ACK_WAIT_SECONDS": "2",
            }
        )
        with service_process("advocacy_planner", env, tmp_path / "planner.log") as planner:
            await planner.answering("planner")
            emitting = asyncio.create_task(emit_all())

            async def under_way() -> bool:
                return len(await applied()) >= EMPLOYEES + EMPLOYEES // 2

            await eventually(under_way, timeout=120)
            planner.kill()
            killed = time.monotonic()
            planner.start()
            await planner.answering("planner")  # fails at once, with its log, if it died
            await emitting

            async def caught_up() -> bool:
                return set(sent) <= set(await applied())

            await eventually(caught_up, timeout=120)
            recovery = time.monotonic() - killed
            await eventually(lambda: _settled(nats_client, topology), timeout=60)

        applications = await applied()
        async with planner_db.connect() as connection:
            rows = await connection.execute(
                text("SELECT employee_id, department FROM roster_employees")
            )
            copies = {UUID(str(employee_id)): department for employee_id, department in rows}
    finally:
        relay.cancel()
        await planner_db.dispose()
        await source.engine.dispose()

    ours = [message_id for message_id in applications if message_id in set(sent)]
    last = f"step-{STEPS - 1}"
    row = fault_report.add(
        "kill -9 of the planner",
        events=len(sent),
        lost=len(set(sent) - set(ours)),
        applied_twice=len(ours) - len(set(ours)),
        out_of_order=sum(1 for e in employees if e in copies and copies[e] != last),
        recovery_seconds=recovery,
    )
    assert row.events == EMPLOYEES * STEPS
    assert (row.lost, row.applied_twice, row.out_of_order) == (0, 0, 0), row


async def _settled(nats_client: NatsClient, topology: Topology) -> bool:
    """Every consumer of the ambassadors stream has nothing pending or unacknowledged."""
    js = nats_client.jetstream()
    stream = topology.stream_name("ambassadors")
    consumers = await js.consumers_info(stream)
    return bool(consumers) and all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers)
