"""The periodic work: who went quiet, which program's momentum dropped, and each program's cohort
actuals for the planner's graduation check.

- An enrolled ambassador whose momentum was `active` and whose last post is `quiet_after_days`
  (28) or more days old goes `quiet` (`AmbassadorMomentumChanged`); posting again makes them
  `active` at once (see `people.posted`).
- A program's momentum drops when the ambassadors active in its last full week are fewer than
  `drop_threshold` (0.7) of the mean of the four weeks before, that mean being at least
  `MIN_BASELINE` (2): `ProgramMomentumDropped`, once per program and week.
- `PostEngagementMeasured` for each post measured since it was last announced (the content
  service learns from it which items engaged for whom), at most `ANNOUNCE_BATCH` per
  organisation and pass.
- `CohortActualsMeasured` for each program's current phase over the 28 days up to today: the
  cohort is the program's enrolled ambassadors off the leadership track; leaders are measured
  apart as `leadership_participation`.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics import repository
from advocacy_metrics.service import measures
from advocacy_metrics.service.reports import WINDOW_DAYS, _enrolled_on, bounds, today
from advocacy_shared.contracts.metrics import (
    AmbassadorMomentumChanged,
    CohortActualsMeasured,
    PostEngagementMeasured,
    ProgramMomentumDropped,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

MIN_BASELINE = 2.0
ANNOUNCE_BATCH = 500


async def announce_engagement(session: AsyncSession, outbox: Outbox) -> int:
    """Publish the latest values of posts measured since they were last announced."""
    announced = 0
    for organisation_id in await repository.organisations_with_unannounced_engagement(session):
        for row in await repository.unannounced_engagement(
            session, organisation_id, ANNOUNCE_BATCH
        ):
            engagements = row.reactions + row.comments + row.reshares
            await outbox.add(
                session,
                PostEngagementMeasured(
                    post_id=row.post_id,
                    ambassador_id=row.ambassador_id,
                    content_item_id=row.content_item_id,
                    impressions=row.impressions,
                    members_reached=row.members_reached,
                    reactions=row.reactions,
                    comments=row.comments,
                    reshares=row.reshares,
                    engagement_rate=measures.rate(engagements, row.impressions),
                    observed_at=row.observed_at,
                ),
                organisation_id=organisation_id,
                subject=str(row.post_id),
            )
            await repository.mark_engagement_announced(
                session, organisation_id, row.post_id, row.observed_at
            )
            announced += 1
    return announced


async def sweep_quiet(session: AsyncSession, outbox: Outbox, quiet_after_days: int) -> int:
    """Announce every active ambassador who went quiet; returns how many."""
    now = utc_now()
    changed = 0
    for organisation_id in await repository.organisations_with_ambassadors(session):
        rows = [
            row
            for row in await repository.ambassadors_of(session, organisation_id)
            if row.momentum == "active" and row.enrolled
        ]
        last = await repository.last_posts(
            session, organisation_id, [row.ambassador_id for row in rows]
        )
        for row in rows:
            posted_at = last.get(row.ambassador_id)
            days = (now - posted_at).days if posted_at else None
            if days is not None and days < quiet_after_days:
                continue
            await repository.save_ambassador(
                session, organisation_id, row.ambassador_id, {"momentum": "quiet"}
            )
            await outbox.add(
                session,
                AmbassadorMomentumChanged(
                    ambassador_id=row.ambassador_id,
                    state="quiet",
                    last_posted_at=posted_at,
                    days_since_last_post=days,
                    changed_at=now,
                ),
                organisation_id=organisation_id,
                subject=str(row.ambassador_id),
            )
            changed += 1
    return changed


async def check_momentum(
    session: AsyncSession, outbox: Outbox, threshold: float, as_of: date | None = None
) -> int:
    """Announce each program whose last full week fell below `threshold` of its baseline."""
    as_of = as_of or today()
    dropped = 0
    for program in await repository.all_programs(session):
        first_week = measures.week_start(as_of) - timedelta(weeks=5)
        start, end = bounds(first_week, as_of)
        rows = await repository.posts_with_latest(
            session,
            program.organisation_id,
            since=start,
            before=end,
            leadership=False,
            program_id=program.program_id,
        )
        weeks = measures.weekly_activity(
            ((r.ambassador_id, r.published_at) for r in rows), as_of, 6
        )
        _, baseline = measures.trend(weeks)
        last = weeks[-2]
        if baseline < MIN_BASELINE or last.active_ambassadors >= threshold * baseline:
            continue
        if not await repository.record_drop(
            session, program.organisation_id, program.program_id, last.week_start
        ):
            continue
        await outbox.add(
            session,
            ProgramMomentumDropped(
                program_id=program.program_id,
                week_start=last.week_start,
                active_ambassadors=last.active_ambassadors,
                baseline=baseline,
                drop=min(1.0, max(0.0, 1 - last.active_ambassadors / baseline)),
                detected_at=utc_now(),
            ),
            organisation_id=program.organisation_id,
            subject=str(program.program_id),
        )
        dropped += 1
    return dropped


async def cohort_actuals(
    session: AsyncSession, organisation_id: UUID, program_id: UUID, phase: str, as_of: date
) -> CohortActualsMeasured:
    since = as_of - timedelta(days=WINDOW_DAYS - 1)
    start, end = bounds(since, as_of)
    members = [
        row
        for row in await repository.ambassadors_of(session, organisation_id, program_id=program_id)
        if _enrolled_on(row, end)
    ]
    cohort = {row.ambassador_id for row in members if not row.leadership}
    leaders = {row.ambassador_id for row in members if row.leadership}
    rows = await repository.posts_with_latest(
        session, organisation_id, since=start, before=end, leadership=None, program_id=None
    )
    cohort_posts = [r for r in rows if r.ambassador_id in cohort and not r.leadership]
    active = {r.ambassador_id for r in cohort_posts}
    leaders_active = {r.ambassador_id for r in rows if r.ambassador_id in leaders}
    sums = measures.totals(r for r in cohort_posts if r.observed_at is not None)
    weeks = WINDOW_DAYS / 7
    return CohortActualsMeasured(
        program_id=program_id,
        phase=phase,
        period_start=since,
        period_end=as_of,
        cohort_size=len(cohort),
        active_rate=measures.rate(len(active), len(cohort)),
        posts_per_ambassador_per_week=(len(cohort_posts) / len(cohort) / weeks if cohort else 0.0),
        reach=sums.reach,
        engagement_rate=min(1.0, sums.engagement_rate),
        leadership_participation=(
            measures.rate(len(leaders_active), len(leaders)) if leaders else None
        ),
        measured_at=utc_now(),
    )


async def publish_actuals(session: AsyncSession, outbox: Outbox, as_of: date | None = None) -> int:
    """`CohortActualsMeasured` for every program's current phase; returns how many."""
    as_of = as_of or today()
    programs = await repository.all_programs(session)
    for program in programs:
        fact = await cohort_actuals(
            session, program.organisation_id, program.program_id, program.phase, as_of
        )
        await outbox.add(
            session, fact, organisation_id=program.organisation_id, subject=str(program.program_id)
        )
    return len(programs)
