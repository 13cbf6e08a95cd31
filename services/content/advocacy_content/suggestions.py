"""Suggestions per ambassador: gathered from the local copies, ranked (`advocacy_content.ranking`),
explained, and kept once a day so that the same list comes back and can be accepted later.

Making a day's list emits the notifications for the comms platform: `SuggestionsPrepared`, or for
a quiet ambassador `AmbassadorNudged` (at most one nudge a week).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import ranking
from advocacy_content.models import (
    AmbassadorCopy,
    ContentItemRecord,
    EngagementRecord,
    SuggestionRecord,
)
from advocacy_content.repository import CopyRepository, LibraryRepository, SuggestionRepository
from advocacy_shared.contracts.content import (
    AmbassadorNudged,
    SignalExplanation,
    SuggestedItem,
    Suggestion,
    SuggestionList,
    SuggestionsPrepared,
)
from advocacy_shared.contracts.errors import Conflict, NotFound
from advocacy_shared.outbox import Outbox

NUDGE_EVERY_DAYS = 7


def suggestion_view(record: SuggestionRecord, item: ContentItemRecord) -> Suggestion:
    return Suggestion(
        id=record.id,
        ambassador_id=record.ambassador_id,
        item_id=record.item_id,
        title=item.title,
        link=item.link,
        day=record.day,
        rank=record.rank,
        score=record.score,
        discipline=record.discipline,
        angle_prompt=record.angle_prompt,
        leadership_prompt=record.leadership_prompt,
        nudge=record.nudge,
        summary=record.summary,
        signals=[SignalExplanation.model_validate(s) for s in record.signals],
        status=record.status,
        created_at=record.created_at,
    )


def available(record: ContentItemRecord, now: datetime) -> bool:
    """Approved, inside its publish window."""
    return (
        record.status == "approved"
        and (record.publish_from is None or record.publish_from <= now)
        and (record.expires_at is None or record.expires_at > now)
    )


def as_item(record: ContentItemRecord) -> ranking.Item:
    starts = [t for t in (record.publish_from, record.approved_at) if t is not None]
    return ranking.Item(
        id=record.id,
        title=record.title,
        body=record.body,
        topics=tuple(record.topics),
        language=record.language,
        disciplines=tuple(record.disciplines),
        segments=tuple(record.segments),
        available_from=max(starts) if starts else record.created_at,
    )


def as_person(copy: AmbassadorCopy, nudged_recently: bool) -> ranking.Person:
    return ranking.Person(
        id=copy.ambassador_id,
        segments=tuple(copy.segments),
        topics=tuple(copy.topics),
        languages=tuple(copy.languages),
        leadership=copy.leadership,
        posts_per_week=copy.posts_per_week,
        quiet=copy.activity == "quiet",
        program_id=copy.program_id,
        nudged_recently=nudged_recently,
    )


async def _ambassador(
    session: AsyncSession, organisation_id: UUID, ambassador_id: UUID, *, lock: bool = False
) -> AmbassadorCopy:
    """The ambassador's copy; `lock` holds it for the transaction, so that two first calls of
    the day for one person make one list (the second waits, then finds it)."""
    copies = CopyRepository(session, organisation_id)
    copy = await copies.ambassador(ambassador_id, for_update=lock)
    if copy is None or copy.activity == "left":
        raise NotFound(
            f"there is no ambassador {ambassador_id} in the program",
            {"ambassador_id": str(ambassador_id)},
        )
    if not copy.consent:
        raise Conflict(
            "the ambassador has not consented (or revoked consent): no suggestions",
            {"ambassador_id": str(ambassador_id), "rule": "consent_required"},
        )
    return copy


async def _rank(
    session: AsyncSession,
    organisation_id: UUID,
    copy: AmbassadorCopy,
    now: datetime,
    limit: int | None,
) -> tuple[ranking.Ranked, ranking.Context, dict[UUID, ContentItemRecord]]:
    copies = CopyRepository(session, organisation_id)
    suggestions = SuggestionRepository(session, organisation_id)
    today = now.date()
    records = {r.id: r for r in await LibraryRepository(session, organisation_id).approved()}
    declined = await suggestions.declined_items(copy.ambassador_id)
    items = [as_item(r) for r in records.values() if available(r, now) and r.id not in declined]
    disciplines = {
        d.key: ranking.Discipline(d.key, d.challenge, tuple(d.segments), tuple(d.angle_prompts))
        for d in await copies.disciplines()
    }
    objectives: dict[UUID, tuple[str, ...]] = {}
    if copy.program_id is not None:
        program = await copies.program(copy.program_id)
        if program is not None:
            objectives[program.program_id] = tuple(program.objectives)
    context = ranking.Context(
        now=now,
        disciplines=disciplines,
        objectives=objectives,
        performance=_performance(await copies.engagements()),
        pushed_today=_others(
            await suggestions.pushed_on(today),
            await suggestions.of_day(copy.ambassador_id, today),
        ),
        cohort_size=max(1, await copies.cohort_size()),
    )
    nudged = await suggestions.nudged_since(
        copy.ambassador_id, today - timedelta(days=NUDGE_EVERY_DAYS - 1)
    )
    person = as_person(copy, nudged)
    (ranked,) = ranking.rank([person], items, context, limit=limit)
    return ranked, context, records


def _others(pushed: dict[UUID, int], own: list[SuggestionRecord]) -> dict[UUID, int]:
    """How many colleagues other than the person got each item today (a preview after the
    day's list must not count the person's own suggestions against them)."""
    counts = dict(pushed)
    for record in own:
        counts[record.item_id] = counts.get(record.item_id, 0) - 1
    return {item: count for item, count in counts.items() if count > 0}


def _performance(engagements: list[EngagementRecord]) -> dict[tuple[UUID, str], float]:
    """Mean engagement rate per (item, author segment), and per item over everyone."""
    rates: dict[tuple[UUID, str], list[float]] = defaultdict(list)
    for row in engagements:
        for segment in {*row.segments, ranking.EVERYONE}:
            if row.item_id is not None:
                rates[(row.item_id, segment)].append(row.engagement_rate)
    return {key: sum(values) / len(values) for key, values in sorted(rates.items(), key=str)}


def _explain(
    context: ranking.Context, ranked: ranking.Ranked, pick: ranking.Pick
) -> list[SignalExplanation]:
    words = ranking.reasons(context, ranked.person, pick)
    signals = [
        SignalExplanation(
            signal=name,
            weight=weight,
            value=pick.values[name],
            contribution=round(weight * pick.values[name], 4),
            reason=words[name],
        )
        for name, weight in ranking.WEIGHTS.items()
    ]
    signals.append(
        SignalExplanation(
            signal="diversity",
            weight=0.0,
            value=round(pick.pushed / pick.cap, 4),
            contribution=0.0,
            reason=words["diversity"],
        )
    )
    signals.append(
        SignalExplanation(
            signal="cadence", weight=0.0, value=1.0, contribution=0.0, reason=ranked.cadence
        )
    )
    return signals


def _records(
    organisation_id: UUID, ranked: ranking.Ranked, context: ranking.Context, day: date
) -> list[SuggestionRecord]:
    return [
        SuggestionRecord(
            organisation_id=organisation_id,
            ambassador_id=ranked.person.id,
            item_id=pick.item.id,
            day=day,
            rank=number,
            score=pick.score,
            discipline=pick.discipline,
            angle_prompt=pick.angle_prompt,
            leadership_prompt=pick.leadership_prompt,
            nudge=pick.nudge,
            summary=ranking.summary(pick),
            signals=[s.model_dump(mode="json") for s in _explain(context, ranked, pick)],
            created_at=context.now,
        )
        for number, pick in enumerate(ranked.picks, start=1)
    ]


async def _kept(
    session: AsyncSession, organisation_id: UUID, copy: AmbassadorCopy, day: date
) -> SuggestionList | None:
    """The day's list as it was made (by the daily run or an earlier call), if it was."""
    kept = await SuggestionRepository(session, organisation_id).of_day(copy.ambassador_id, day)
    if not kept:
        return None
    library = LibraryRepository(session, organisation_id)
    items = {r.id: r for r in await library.approved()}
    views = []
    for record in kept:
        item = items.get(record.item_id) or await library.item(record.item_id)
        if item is not None:
            views.append(suggestion_view(record, item))
    cadence = ranking.cadence_text(as_person(copy, nudged_recently=False))
    return SuggestionList(
        ambassador_id=copy.ambassador_id, day=day, stored=True, cadence=cadence, items=views
    )


async def suggest_for(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    now: datetime,
) -> SuggestionList:
    """Today's suggestions: the list the daily run prepared (or an earlier call made); made
    and kept now when there is none yet (the run has not reached this person, or they joined
    since).

    Making a list holds the person's copy and then the organisation's day (`lock_day`), so
    that colleagues' lists of one day are made one after another and each counts the lists
    before it against the daily cap; a prepared list is read without either lock."""
    today = now.date()
    copy = await _ambassador(session, organisation_id, ambassador_id)
    kept = await _kept(session, organisation_id, copy, today)
    if kept is not None:
        return kept
    copy = await _ambassador(session, organisation_id, ambassador_id, lock=True)
    suggestions = SuggestionRepository(session, organisation_id)
    await suggestions.lock_day(today)
    kept = await _kept(session, organisation_id, copy, today)
    if kept is not None:  # made meanwhile by the daily run or a concurrent call
        return kept
    ranked, context, records = await _rank(session, organisation_id, copy, now, None)
    rows = _records(organisation_id, ranked, context, today)
    for row in rows:
        suggestions.save(row)
    await session.flush()
    views = [suggestion_view(row, records[row.item_id]) for row in rows]
    await _notify(session, outbox, organisation_id, ambassador_id, today, views, now)
    return SuggestionList(
        ambassador_id=ambassador_id, day=today, stored=True, cadence=ranked.cadence, items=views
    )


async def _notify(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    ambassador_id: UUID,
    day: date,
    views: list[Suggestion],
    now: datetime,
) -> None:
    if not views:
        return
    if views[0].nudge:
        nudge = views[0]
        await outbox.add(
            session,
            AmbassadorNudged(
                ambassador_id=ambassador_id,
                suggestion_id=nudge.id,
                item_id=nudge.item_id,
                title=nudge.title,
                angle_prompt=nudge.angle_prompt,
                message=f"It has been a while. {nudge.summary} Start from: {nudge.angle_prompt}"[
                    :1000
                ],
                nudged_at=now,
            ),
            organisation_id=organisation_id,
            subject=str(ambassador_id),
        )
        return
    await outbox.add(
        session,
        SuggestionsPrepared(
            ambassador_id=ambassador_id,
            day=day,
            count=len(views),
            items=[
                SuggestedItem(
                    suggestion_id=v.id,
                    item_id=v.item_id,
                    title=v.title,
                    angle_prompt=v.angle_prompt,
                    summary=v.summary[:300],
                )
                for v in views[:10]
            ],
            prepared_at=now,
        ),
        organisation_id=organisation_id,
        subject=str(ambassador_id),
    )


async def preview(
    session: AsyncSession,
    organisation_id: UUID,
    ambassador_id: UUID,
    limit: int | None,
    now: datetime,
) -> SuggestionList:
    """What the ranking would suggest now, for a program manager: nothing kept, nothing sent."""
    copy = await _ambassador(session, organisation_id, ambassador_id)
    ranked, context, records = await _rank(session, organisation_id, copy, now, limit)
    rows = _records(organisation_id, ranked, context, now.date())
    return SuggestionList(
        ambassador_id=ambassador_id,
        day=now.date(),
        stored=False,
        cadence=ranked.cadence,
        items=[suggestion_view(row, records[row.item_id]) for row in rows],
    )


async def dismiss(
    session: AsyncSession,
    organisation_id: UUID,
    suggestion_id: UUID,
    ambassador_id: UUID | None,
) -> Suggestion:
    """The ambassador will not post it: marked dismissed, and its item is not suggested to them
    again. One already accepted (a post was written from it) stays accepted: 409."""
    record = await SuggestionRepository(session, organisation_id).locked(suggestion_id)
    if record is None or ambassador_id not in (None, record.ambassador_id):
        raise NotFound(
            f"there is no suggestion {suggestion_id}", {"suggestion_id": str(suggestion_id)}
        )
    if record.status == "accepted":
        raise Conflict(
            "a post was written from this suggestion: cancel the post instead",
            {"rule": "suggestion_status", "status": record.status},
        )
    record.status = "dismissed"
    item = await LibraryRepository(session, organisation_id).item(record.item_id)
    if item is None:
        raise NotFound(f"there is no suggestion {suggestion_id}")
    return suggestion_view(record, item)
