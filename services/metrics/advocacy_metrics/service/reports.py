"""The aggregates the API answers: summary with EMV, one post against the company page, the
employee/company comparison, participation, momentum, rollups and the EMV rates.

A period is whole UTC days, `since` to `until` inclusive (the 28 days up to today by default);
posts count in the period they were published in, with their latest values. The leadership track
is reported apart: `track="leadership"` reads only leaders' posts, the default only the others'.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import measures
from advocacy_shared.contracts.errors import Invalid, NotFound
from advocacy_shared.contracts.metrics import (
    FIRST_DAY,
    MAX_PERIOD_DAYS,
    AmbassadorMomentum,
    Compare,
    EmployeeVsCompany,
    Emv,
    EmvRates,
    EmvRatesList,
    GetMomentum,
    GetParticipation,
    GetPostMetrics,
    GetSummary,
    ListEmvRates,
    ListRollups,
    MetricsSummary,
    Momentum,
    Participation,
    Period,
    PostMetrics,
    RollupRow,
    Rollups,
    SetEmvRates,
)
from advocacy_shared.envelope import utc_now

WINDOW_DAYS = 28
QUIET_AFTER_DAYS = 28
MAX_ROLLUP_ROWS = 10_000


def today() -> date:
    return utc_now().date()


def period_of(request: Period) -> tuple[date, date]:
    """The request's days; a reversed period or one longer than `MAX_PERIOD_DAYS` is invalid."""
    until = request.until or today()
    since = request.since or max(FIRST_DAY, until - timedelta(days=WINDOW_DAYS - 1))
    if since > until:
        raise Invalid(f"until ({until}) is before since ({since})")
    if (until - since).days >= MAX_PERIOD_DAYS:
        raise Invalid(f"a period spans at most {MAX_PERIOD_DAYS} days")
    return since, until


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def bounds(since: date, until: date) -> tuple[datetime, datetime]:
    return start_of(since), start_of(until + timedelta(days=1))


async def rates_for(session: AsyncSession, organisation_id: UUID, currency: str | None) -> EmvRates:
    rows = await repository.emv_rate_rows(session, organisation_id)
    rates = [_rates(row) for row in rows]
    if currency is None:
        chosen = next((r for r in rates if r.default), None)
        return chosen or measures.DEFAULT_RATES
    chosen = next((r for r in rates if r.currency == currency), None)
    if chosen is not None:
        return chosen
    if currency == measures.DEFAULT_CURRENCY:
        return measures.DEFAULT_RATES.model_copy(update={"default": not rates})
    raise NotFound(f"no earned media value rates in {currency}; set them first")


def _rates(row: object) -> EmvRates:
    return EmvRates(
        currency=row.currency,  # type: ignore[attr-defined]
        cpm=row.cpm,  # type: ignore[attr-defined]
        per_reaction=row.per_reaction,  # type: ignore[attr-defined]
        per_comment=row.per_comment,  # type: ignore[attr-defined]
        per_reshare=row.per_reshare,  # type: ignore[attr-defined]
        per_click=row.per_click,  # type: ignore[attr-defined]
        default=row.is_default,  # type: ignore[attr-defined]
    )


async def summary(session: AsyncSession, request: GetSummary) -> MetricsSummary:
    since, until = period_of(request)
    start, end = bounds(since, until)
    rows = await repository.posts_with_latest(
        session,
        request.organisation_id,
        since=start,
        before=end,
        leadership=request.track == "leadership",
        program_id=request.program_id,
    )
    sums = measures.totals(rows)
    rates = await rates_for(session, request.organisation_id, request.currency)
    return MetricsSummary(
        track=request.track,
        program_id=request.program_id,
        since=since,
        until=until,
        totals=sums,
        emv=Emv(currency=rates.currency, amount=measures.emv(sums, rates), rates=rates),
    )


async def post_metrics(session: AsyncSession, request: GetPostMetrics) -> PostMetrics:
    row = await repository.post_with_latest(session, request.organisation_id, request.post_id)
    if row is None:
        raise NotFound(f"no post {request.post_id}")
    day = row.published_at.date()
    start, end = bounds(day - timedelta(days=WINDOW_DAYS - 1), day)
    company = await _company(session, request.organisation_id, start, end, row.program_id)
    measured = [row] if row.observed_at is not None else []
    return PostMetrics(
        post_id=row.post_id,
        ambassador_id=row.ambassador_id,
        leadership=row.leadership,
        program_id=row.program_id,
        published_at=row.published_at,
        withdrawn_at=row.withdrawn_at,
        observed_at=row.observed_at,
        totals=measures.totals([row]),
        versus_company=measures.comparison(measured, company),
    )


async def _company(
    session: AsyncSession,
    organisation_id: UUID,
    start: datetime,
    end: datetime,
    program_id: UUID | None,
) -> list:  # type: ignore[type-arg]
    """The program's company-page posts, or every company-page post when none is tagged with it."""
    if program_id is not None:
        tagged = await repository.company_with_latest(
            session, organisation_id, since=start, before=end, program_id=program_id
        )
        if tagged:
            return tagged
    return await repository.company_with_latest(
        session, organisation_id, since=start, before=end, program_id=None
    )


async def compare(session: AsyncSession, request: Compare) -> EmployeeVsCompany:
    since, until = period_of(request)
    start, end = bounds(since, until)
    employee = await repository.posts_with_latest(
        session,
        request.organisation_id,
        since=start,
        before=end,
        leadership=False,
        program_id=request.program_id,
    )
    measured = [r for r in employee if r.observed_at is not None]
    company = await _company(session, request.organisation_id, start, end, request.program_id)
    return EmployeeVsCompany(
        program_id=request.program_id,
        since=since,
        until=until,
        comparison=measures.comparison(measured, company),
    )


async def participation(session: AsyncSession, request: GetParticipation) -> Participation:
    as_of = request.as_of or today()
    since = max(FIRST_DAY, as_of - timedelta(days=WINDOW_DAYS - 1))
    start, end = bounds(since, as_of)
    enrolled = [
        row.ambassador_id
        for row in await repository.ambassadors_of(
            session,
            request.organisation_id,
            program_id=request.program_id,
            leadership=request.track == "leadership",
        )
        if _enrolled_on(row, end)
    ]
    recent = await repository.posts_with_latest(
        session,
        request.organisation_id,
        since=start,
        before=end,
        leadership=None,
        program_id=None,
    )
    authors = {row.ambassador_id for row in recent}
    posted = sum(1 for ambassador_id in enrolled if ambassador_id in authors)
    return Participation(
        program_id=request.program_id,
        as_of=as_of,
        window_days=WINDOW_DAYS,
        enrolled=len(enrolled),
        posted=posted,
        rate=measures.rate(posted, len(enrolled)),
    )


def _enrolled_on(row: object, end: datetime) -> bool:
    """Enrolled before the end of the day and not left by then."""
    enrolled_at = row.enrolled_at  # type: ignore[attr-defined]
    left_at = row.left_at  # type: ignore[attr-defined]
    return enrolled_at is not None and enrolled_at < end and (left_at is None or left_at >= end)


async def momentum(session: AsyncSession, request: GetMomentum) -> Momentum:
    as_of = request.as_of or today()
    first_week = max(FIRST_DAY, measures.week_start(as_of) - timedelta(weeks=request.weeks - 1))
    start, end = bounds(first_week, as_of)
    rows = await repository.posts_with_latest(
        session,
        request.organisation_id,
        since=start,
        before=end,
        leadership=False,
        program_id=request.program_id,
    )
    weeks = measures.weekly_activity(
        ((r.ambassador_id, r.published_at) for r in rows), as_of, request.weeks
    )
    change, _ = measures.trend(weeks)
    enrolled = [
        row
        for row in await repository.ambassadors_of(
            session, request.organisation_id, program_id=request.program_id, leadership=False
        )
        if _enrolled_on(row, end)
    ]
    last = await repository.last_posts(
        session, request.organisation_id, [row.ambassador_id for row in enrolled]
    )
    people: list[AmbassadorMomentum] = []
    for row in enrolled[:1000]:
        posted_at = last.get(row.ambassador_id)
        days = (end - posted_at).days if posted_at is not None else None
        state = (
            "never_posted" if days is None else ("quiet" if days >= QUIET_AFTER_DAYS else "active")
        )
        people.append(
            AmbassadorMomentum(
                ambassador_id=row.ambassador_id,
                last_posted_at=posted_at,
                days_since_last_post=days,
                state=state,
            )
        )
    return Momentum(
        program_id=request.program_id, as_of=as_of, weeks=weeks, trend=change, ambassadors=people
    )


async def rollups(session: AsyncSession, request: ListRollups) -> Rollups:
    since, until = period_of(request)
    rows = await repository.rollups(
        session,
        request.organisation_id,
        track=request.track,
        dimension=request.dimension,
        since=since,
        until=until,
        limit=MAX_ROLLUP_ROWS,
    )
    return Rollups(
        dimension=request.dimension,
        since=since,
        until=until,
        items=[
            RollupRow(
                day=r.day,
                key=r.key,
                posts=r.posts,
                impressions=r.impressions,
                reach=r.reach,
                reactions=r.reactions,
                comments=r.comments,
                reshares=r.reshares,
                clicks=r.clicks,
            )
            for r in rows
        ],
    )


async def list_rates(session: AsyncSession, request: ListEmvRates) -> EmvRatesList:
    rows = await repository.emv_rate_rows(session, request.organisation_id)
    items = [_rates(row) for row in rows]
    if not any(r.currency == measures.DEFAULT_CURRENCY for r in items):
        items.append(measures.DEFAULT_RATES.model_copy(update={"default": not items}))
    return EmvRatesList(items=items)


async def set_rates(session: AsyncSession, request: SetEmvRates) -> EmvRates:
    rates = request.rates
    others = [
        row
        for row in await repository.emv_rate_rows(session, request.organisation_id)
        if row.currency != request.currency
    ]
    is_default = rates.default or not any(row.is_default for row in others)
    await repository.save_emv_rates(
        session,
        request.organisation_id,
        request.currency,
        {
            "cpm": rates.cpm,
            "per_reaction": rates.per_reaction,
            "per_comment": rates.per_comment,
            "per_reshare": rates.per_reshare,
            "per_click": rates.per_click,
            "is_default": is_default,
        },
    )
    return EmvRates(
        currency=request.currency,
        cpm=rates.cpm,
        per_reaction=rates.per_reaction,
        per_comment=rates.per_comment,
        per_reshare=rates.per_reshare,
        per_click=rates.per_click,
        default=is_default,
    )
