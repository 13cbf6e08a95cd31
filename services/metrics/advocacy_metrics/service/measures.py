"""The formulas, as pure functions over rows of counts (None counts as 0).

- reach: members reached; a snapshot without it (older exports) counts its impressions.
- engagement: reactions + comments + reshares; engagement rate: engagement / impressions (0
  without impressions).
- earned media value: impressions / 1000 * cpm + reactions * per_reaction + comments *
  per_comment + reshares * per_reshare + clicks * per_click, rounded to 2 decimals.
- employee versus company page: the mean reach (and engagement) per employee post over the mean
  per company-page post; None without a company post.
- participation: enrolled ambassadors who posted in the window / enrolled ambassadors.
- weekly activity: per ISO week (Monday first) the distinct ambassadors who posted; the trend is
  the last full week over the mean of the four full weeks before it, minus 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from advocacy_shared.contracts.metrics import Comparison, EmvRates, Totals, WeekActivity

DEFAULT_CURRENCY = "DKK"
DEFAULT_RATES = EmvRates(
    currency=DEFAULT_CURRENCY,
    cpm=75.0,
    per_reaction=3.0,
    per_comment=10.0,
    per_reshare=20.0,
    per_click=5.0,
    default=True,
)
"""DKK rates used until an organisation sets its own (assumptions, documented in docs/metrics.md):
a LinkedIn sponsored-content CPM of about 75 DKK and typical cost per engagement."""


class Counted(Protocol):
    @property
    def impressions(self) -> int | None: ...
    @property
    def members_reached(self) -> int | None: ...
    @property
    def reactions(self) -> int | None: ...
    @property
    def comments(self) -> int | None: ...
    @property
    def reshares(self) -> int | None: ...
    @property
    def clicks(self) -> int | None: ...


def reach_of(row: Counted) -> int:
    if row.members_reached is not None:
        return row.members_reached
    return row.impressions or 0


def engagement_of(row: Counted) -> int:
    return (row.reactions or 0) + (row.comments or 0) + (row.reshares or 0)


def rate(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def totals(rows: Iterable[Counted]) -> Totals:
    posts = impressions = reach = reactions = comments = reshares = clicks = 0
    for row in rows:
        posts += 1
        impressions += row.impressions or 0
        reach += reach_of(row)
        reactions += row.reactions or 0
        comments += row.comments or 0
        reshares += row.reshares or 0
        clicks += row.clicks or 0
    engagement = reactions + comments + reshares
    return Totals(
        posts=posts,
        impressions=impressions,
        reach=reach,
        reactions=reactions,
        comments=comments,
        reshares=reshares,
        clicks=clicks,
        engagement=engagement,
        engagement_rate=rate(engagement, impressions),
    )


def emv(sums: Totals, rates: EmvRates) -> float:
    value = (
        sums.impressions / 1000 * rates.cpm
        + sums.reactions * rates.per_reaction
        + sums.comments * rates.per_comment
        + sums.reshares * rates.per_reshare
        + sums.clicks * rates.per_click
    )
    return round(value, 2)


def comparison(employee: Sequence[Counted], company: Sequence[Counted]) -> Comparison:
    def mean(values: list[int]) -> float:
        return sum(values) / len(values) if values else 0.0

    employee_reach = mean([reach_of(r) for r in employee])
    company_reach = mean([reach_of(r) for r in company])
    employee_engagement = mean([engagement_of(r) for r in employee])
    company_engagement = mean([engagement_of(r) for r in company])
    return Comparison(
        employee_posts=len(employee),
        company_posts=len(company),
        employee_reach_per_post=employee_reach,
        company_reach_per_post=company_reach,
        employee_engagement_per_post=employee_engagement,
        company_engagement_per_post=company_engagement,
        reach_ratio=employee_reach / company_reach if company and company_reach else None,
        engagement_ratio=(
            employee_engagement / company_engagement if company and company_engagement else None
        ),
    )


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_activity(
    posted: Iterable[tuple[UUID, datetime]], as_of: date, weeks: int
) -> list[WeekActivity]:
    """Distinct authors and posts per week, for `weeks` weeks ending with the week of `as_of`."""
    current = week_start(as_of)
    starts = [current - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    authors: dict[date, set[UUID]] = {start: set() for start in starts}
    counts: dict[date, int] = dict.fromkeys(starts, 0)
    for ambassador_id, published_at in posted:
        start = week_start(published_at.date())
        if start in authors and published_at.date() <= as_of:
            authors[start].add(ambassador_id)
            counts[start] += 1
    return [
        WeekActivity(week_start=s, active_ambassadors=len(authors[s]), posts=counts[s])
        for s in starts
    ]


def trend(weeks: Sequence[WeekActivity]) -> tuple[float | None, float]:
    """(trend, baseline): the last full week (the one before the current) against the mean of
    the four before it; trend None when there are fewer weeks or no activity before."""
    if len(weeks) < 6:
        return None, 0.0
    last_full = weeks[-2].active_ambassadors
    before = [w.active_ambassadors for w in weeks[-6:-2]]
    baseline = sum(before) / len(before)
    if not baseline:
        return None, 0.0
    return last_full / baseline - 1, baseline


def as_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)
