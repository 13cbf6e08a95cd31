"""Wiring of the content service."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from advocacy_content import suggestions
from advocacy_content.handlers import consumers
from advocacy_content.models import messaging
from advocacy_content.posting import Publisher
from advocacy_content.repository import (
    CopyRepository,
    SuggestionRepository,
    organisations_with_cohorts,
)
from advocacy_content.rpc import PostingWiring, posting_wiring, server
from advocacy_content.settings import ContentSettings
from advocacy_shared.contracts.errors import Conflict, NotFound
from advocacy_shared.envelope import utc_now
from advocacy_shared.lifecycle import pause
from advocacy_shared.linkedin import LinkedInClient
from advocacy_shared.linkedin.posts import LinkedInPosts
from advocacy_shared.rpc import RpcClient
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    settings = settings or ContentSettings()
    assert isinstance(settings, ContentSettings)
    runtime = ServiceRuntime(
        settings, messaging, consumers, server, background=[publish_posts, prepare_suggestions]
    )
    clients: list[RpcClient] = []

    def rpc() -> RpcClient:
        """Requests to other services, on the runtime's own NATS connection (once started)."""
        if not clients:
            clients.append(
                RpcClient(
                    runtime.broker.connection, runtime.subject_of, settings.rpc_timeout_seconds
                )
            )
        return clients[0]

    adapters: list[LinkedInPosts] = []

    def linkedin() -> LinkedInPosts:
        """The LinkedIn adapter, made when the first post is due (see `Publisher`)."""
        if not adapters:
            adapters.append(LinkedInPosts(LinkedInClient(settings.linkedin)))
        return adapters[0]

    posting_wiring.wiring = PostingWiring(Publisher(settings, linkedin, rpc), rpc)
    return runtime


async def publish_posts(runtime: ServiceRuntime) -> None:
    """Due posts go to LinkedIn; manual-path reminders are raised (advocacy_content.posting)."""
    await posting_wiring().publisher.run(runtime)


def _settings(runtime: ServiceRuntime) -> ContentSettings:
    settings = runtime.settings
    assert isinstance(settings, ContentSettings)
    return settings


async def prepare_suggestions(runtime: ServiceRuntime) -> None:
    """Every `suggestions_run_seconds`, starting one interval after start: once the day's
    preparation hour has come, the day's suggestions of every consenting ambassador
    (`run_daily_suggestions`)."""
    settings = _settings(runtime)
    while True:
        await pause(settings.suggestions_run_seconds)
        now = utc_now()
        if now.hour >= settings.suggestions_prepare_hour_utc:
            try:
                await run_daily_suggestions(runtime, now)
            except Exception:
                log.exception("the daily run of suggestions failed; retrying next interval")


async def run_daily_suggestions(runtime: ServiceRuntime, now: datetime) -> int:
    """Prepare `now`'s day for every organisation not yet prepared; the lists made.

    Per organisation, one replica leases the day (`suggestion_days`), then makes each person's
    list in a transaction of its own through the same path as a request (so a list the person
    already asked for is kept as it is, and the daily cap counts every list), then marks the
    day prepared. A replica that stops mid-way leaves the lease to run out; the next run resumes,
    and the lists already made stay. Running it again the same day makes nothing."""
    settings = _settings(runtime)
    day, made = now.date(), 0
    async with runtime.sessions() as session:
        organisations = await organisations_with_cohorts(session)
    for organisation_id in organisations:
        until = now + timedelta(seconds=settings.suggestions_lease_seconds)
        async with runtime.transaction() as session:
            leased = await SuggestionRepository(session, organisation_id).lease_day(day, now, until)
        if leased:
            made += await _prepare_organisation(runtime, organisation_id, now)
            async with runtime.transaction() as session:
                await SuggestionRepository(session, organisation_id).day_prepared(day, utc_now())
    return made


async def _prepare_organisation(
    runtime: ServiceRuntime, organisation_id: UUID, now: datetime
) -> int:
    async with runtime.sessions() as session:
        cohort = await CopyRepository(session, organisation_id).cohort()
    made = 0
    for ambassador_id in cohort:
        try:
            async with runtime.transaction() as session:
                listed = await suggestions.suggest_for(
                    session, runtime.outbox, organisation_id, ambassador_id, now
                )
        except (Conflict, NotFound):  # consent revoked or left since the cohort was read
            continue
        made += 1 if listed.items else 0
    return made


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_content", ContentSettings, create_runtime, argv)
