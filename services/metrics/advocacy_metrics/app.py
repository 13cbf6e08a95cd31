"""Wiring of the metrics service: its consumers and request handlers, and three periodic tasks
(the daily rollups of touched days; momentum and cohort actuals; LinkedIn polling)."""

from __future__ import annotations

import logging

from advocacy_metrics.handlers import consumers
from advocacy_metrics.models import messaging
from advocacy_metrics.polling import Poller, polling_wiring
from advocacy_metrics.rpc import server
from advocacy_metrics.service import rollups, schedule
from advocacy_metrics.settings import MetricsSettings
from advocacy_shared.crypto import SecretBox
from advocacy_shared.lifecycle import pause
from advocacy_shared.linkedin import LinkedInClient
from advocacy_shared.linkedin.analytics import LinkedInAnalytics
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    settings = settings or MetricsSettings()
    assert isinstance(settings, MetricsSettings)
    runtime = ServiceRuntime(
        settings,
        messaging,
        consumers,
        server,
        background=[rollup_task, schedule_task, poll_task],
    )
    clients: list[RpcClient] = []

    def rpc() -> RpcClient:
        """Requests to the ambassadors service, on the runtime's own NATS connection."""
        if not clients:
            clients.append(
                RpcClient(
                    runtime.broker.connection, runtime.subject_of, settings.rpc_timeout_seconds
                )
            )
        return clients[0]

    adapters: list[LinkedInAnalytics] = []

    def analytics() -> LinkedInAnalytics:
        """The LinkedIn adapter, made when the first poll is due (its base URLs are global)."""
        if not adapters:
            adapters.append(LinkedInAnalytics(LinkedInClient(settings.linkedin)))
        return adapters[0]

    keys = settings.secret_keys()
    polling_wiring.poller = Poller(
        settings, analytics, rpc, SecretBox(keys) if keys is not None else None
    )
    return runtime


async def poll_task(runtime: ServiceRuntime) -> None:
    """LinkedIn's analytics of due posts and company pages (advocacy_metrics.polling)."""
    await polling_wiring().run(runtime)


def _settings(runtime: ServiceRuntime) -> MetricsSettings:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)
    return settings


async def rollup_task(runtime: ServiceRuntime) -> None:
    """Every `rollup_interval_seconds`: the rollups of organisations whose days were touched, and
    the engagement of posts measured since last announced."""
    while True:
        await pause(_settings(runtime).rollup_interval_seconds)
        try:
            async with runtime.transaction() as session:
                await rollups.refresh(session)
                await schedule.announce_engagement(session, runtime.outbox)
        except Exception:
            log.exception("rollup refresh failed; retrying next interval")


async def run_schedule(runtime: ServiceRuntime) -> None:
    """One pass: quiet ambassadors, program momentum drops, cohort actuals (one transaction)."""
    settings = _settings(runtime)
    async with runtime.transaction() as session:
        await schedule.sweep_quiet(session, runtime.outbox, settings.quiet_after_days)
        await schedule.check_momentum(session, runtime.outbox, settings.momentum_drop_threshold)
        await schedule.publish_actuals(session, runtime.outbox)


async def schedule_task(runtime: ServiceRuntime) -> None:
    """Every `schedule_interval_seconds`, starting one interval after start."""
    while True:
        await pause(_settings(runtime).schedule_interval_seconds)
        try:
            await run_schedule(runtime)
        except Exception:
            log.exception("scheduled metrics pass failed; retrying next interval")


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_metrics", MetricsSettings, create_runtime, argv)
