"""The formulas against hand-computed cases: totals, engagement rate, earned media value, the
employee/company ratio, weekly activity and its trend, and the rollups' carrying forward."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from advocacy_metrics.service import measures
from advocacy_metrics.service.rollups import _carried
from advocacy_shared.contracts.metrics import EmvRates, ImportRow, PostMetricsObserved


@dataclass(frozen=True)
class Counts:
    impressions: int | None = 0
    members_reached: int | None = None
    reactions: int | None = 0
    comments: int | None = 0
    reshares: int | None = 0
    clicks: int | None = 0


@dataclass(frozen=True)
class Daily(Counts):
    day: date = date(2027, 2, 1)


def test_totals_fall_back_to_impressions_for_reach_and_rate_engagement_per_impression() -> None:
    sums = measures.totals(
        [
            Counts(
                impressions=10_000, members_reached=7_000, reactions=40, comments=10, reshares=5
            ),
            Counts(impressions=2_000, members_reached=None, reactions=0, comments=0, reshares=0),
            Counts(impressions=None, members_reached=None, reactions=None),  # never measured
        ]
    )
    assert (sums.posts, sums.impressions, sums.reach) == (3, 12_000, 9_000)
    assert sums.engagement == 55
    assert sums.engagement_rate == pytest.approx(55 / 12_000)
    assert measures.totals([]).engagement_rate == 0.0


def test_earned_media_value_with_the_default_dkk_rates() -> None:
    # 12 000 impressions: 12 x 75 = 900; 40 reactions x 3 = 120; 10 comments x 10 = 100;
    # 5 reshares x 20 = 100; 20 clicks x 5 = 100: 1 320.00 DKK.
    sums = measures.totals(
        [Counts(impressions=12_000, reactions=40, comments=10, reshares=5, clicks=20)]
    )
    assert measures.DEFAULT_RATES.currency == "DKK"
    assert measures.emv(sums, measures.DEFAULT_RATES) == 1320.0


def test_earned_media_value_with_an_organisations_own_rates() -> None:
    rates = EmvRates(
        currency="EUR", cpm=10.0, per_reaction=0.5, per_comment=1.25, per_reshare=2.0, per_click=0
    )
    # 2 500 impressions: 2.5 x 10 = 25; 3 x 0.5 = 1.5; 2 x 1.25 = 2.5; 1 x 2 = 2: 31.00 EUR.
    sums = measures.totals([Counts(impressions=2_500, reactions=3, comments=2, reshares=1)])
    assert measures.emv(sums, rates) == 31.0


def test_employee_posts_against_the_company_page_ten_and_eight_times() -> None:
    employee = [
        Counts(impressions=4_000, members_reached=3_000, reactions=70, comments=10),
        Counts(impressions=6_000, members_reached=5_000, reactions=60, comments=15, reshares=5),
    ]
    company = [
        Counts(impressions=900, members_reached=300, reactions=8, comments=1),
        Counts(impressions=700, members_reached=500, reactions=10, comments=1),
    ]
    result = measures.comparison(employee, company)
    # Reach per post: (3000 + 5000) / 2 = 4000 against (300 + 500) / 2 = 400.
    # Engagement per post: (80 + 80) / 2 = 80 against (9 + 11) / 2 = 10.
    assert (result.employee_reach_per_post, result.company_reach_per_post) == (4000.0, 400.0)
    assert result.reach_ratio == 10.0
    assert result.engagement_ratio == 8.0
    assert measures.comparison(employee, []).reach_ratio is None


def test_weekly_activity_and_a_falling_trend() -> None:
    as_of = date(2027, 3, 10)  # a Wednesday: its week starts on Monday 8 March
    current = measures.week_start(as_of)
    assert current == date(2027, 3, 8)
    a, b, c, d = (uuid4() for _ in range(4))

    def at(week: int, day: int = 1) -> datetime:
        start = current - timedelta(weeks=week)
        return datetime.combine(start + timedelta(days=day), datetime.min.time(), tzinfo=UTC)

    posted = [(who, at(week)) for week in (2, 3, 4, 5) for who in (a, b, c, d)]
    posted += [(a, at(1)), (a, at(1, 2)), (b, at(1)), (c, at(0))]
    weeks = measures.weekly_activity(posted, as_of, 6)
    assert [w.active_ambassadors for w in weeks] == [4, 4, 4, 4, 2, 1]
    assert [w.posts for w in weeks] == [4, 4, 4, 4, 3, 1]
    change, baseline = measures.trend(weeks)
    assert baseline == 4.0
    assert change == pytest.approx(-0.5)  # 2 active in the last full week against 4


def test_rollups_carry_each_days_last_value_forward_and_keep_a_lower_count() -> None:
    series = [
        Daily(day=date(2027, 2, 1), impressions=100, members_reached=80),
        Daily(day=date(2027, 2, 3), impressions=90, members_reached=None),  # went down
    ]
    carried = _carried(series, date(2027, 2, 1), date(2027, 2, 4))
    # (day of February, impressions, reach): day 2 carries day 1; day 3 is lower, as observed.
    assert [(day.day, values[0], values[1]) for day, values in carried] == [
        (1, 100, 80),
        (2, 100, 80),
        (3, 90, 90),
        (4, 90, 90),
    ]


def test_an_inconsistent_snapshot_is_refused_by_its_contract() -> None:
    with pytest.raises(ValueError, match="members_reached is larger than impressions"):
        PostMetricsObserved(
            post_id=uuid4(),
            observed_at=datetime.now(UTC),
            source="tool:x",
            impressions=10,
            members_reached=11,
            reactions=0,
            comments=0,
            reshares=0,
        )
    with pytest.raises(ValueError, match="either post_id or company_post_urn"):
        ImportRow(row=2, observed_at=datetime.now(UTC), impressions=1)
