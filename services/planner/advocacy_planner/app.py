"""Wiring of the planner service."""

from __future__ import annotations

import logging
from datetime import timedelta

from advocacy_planner.handlers import consumers
from advocacy_planner.models import messaging
from advocacy_planner.rpc import server
from advocacy_planner.service.recruitment import prune_departures
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import first_pass_in, pause
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    settings = settings or PlannerSettings()
    assert isinstance(settings, PlannerSettings)
    return ServiceRuntime(settings, messaging, consumers, server, background=[departures_sweep])


async def departures_sweep(runtime: ServiceRuntime) -> None:
    """Every `departures_sweep_seconds`: tombstones past `departures_retention_seconds` go.
    Several replicas may sweep at once (the delete is idempotent)."""
    settings = runtime.settings
    assert isinstance(settings, PlannerSettings)
    retention = timedelta(seconds=settings.departures_retention_seconds)
    await pause(first_pass_in(settings.departures_sweep_seconds))
    while True:
        try:
            async with runtime.transaction() as session:
                pruned = await prune_departures(session, utc_now(), retention)
            if pruned:
                log.info("departure tombstones pruned", extra={"pruned": pruned})
        except Exception:
            log.exception("departure tombstone sweep failed; trying again at the next interval")
        await pause(settings.departures_sweep_seconds)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_planner", PlannerSettings, create_runtime, argv)
