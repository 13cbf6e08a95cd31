"""kill -9 of the planner, a real `python -m advocacy_planner serve` process, while roster events
flow to it through the real backbone (an outbox and its relay, JetStream, the planner's durable
consumer and inbox); then it is started again, as a supervisor would.

Counted from the planner's own database: an event is applied when its inbox row exists (written
in the transaction that applies it); an employee is out of order when their copy does not hold
the last fact sent about them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.shared.helpers import eventually
from tests.shared.probe import Probe

pytestmark = pytest.mark.timeout(600)  # processes restarted under load

EMPLOYEES = 30
STEPS = 4  # facts per employee: joined, then changed three times


class PlannerProcess:
    """The planner service as its own process, started (and killed) by the test."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "advocacy_planner", "serve", "--no-migrate"],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        assert self.process.poll() is None, self.log.read_text()
        self.process.kill()  # SIGKILL: no clean-up of any kind
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def planner_process(
    nats_url: str, namespace: str, database_url: str, folder: Path
) -> Iterator[PlannerProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVOCACY_")}
    env |= {
        "NATS_URL": nats_url,
        "ADVOCACY_NAMESPACE": namespace,
        "ADVOCACY_PLANNER_DATABASE_URL": database_url,
        "ADVOCACY_DATA_DIR": str(folder),
        "ADVOCACY_CONSUMER_ACK_WAIT_SECONDS": "2",
        "ADVOCACY_CONSUMER_BACKOFF_SECONDS": "[0.1, 0.5]",
        "ADVOCACY_LOG_LEVEL": "WARNING",
    }
    planner = PlannerProcess(env, folder / "planner.log")
    planner.start()
    try:
        yield planner
    finally:
        planner.stop()


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
        with planner_process(nats_server_url, topology.namespace, planner_url, tmp_path) as planner:
            emitting = asyncio.create_task(emit_all())

            async def under_way() -> bool:
                return len(await applied()) >= EMPLOYEES + EMPLOYEES // 2

            await eventually(under_way, timeout=120)
            planner.kill()
            killed = time.monotonic()
            planner.start()
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
