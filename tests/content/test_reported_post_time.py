"""A post reported by its URL dates from when LinkedIn made it (the time its id carries), within
a plausible range; otherwise from when it was reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from advocacy_content.posts import reported_publication_time
from advocacy_shared.linkedin.posts import created_at_of, urn_made_at

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_an_id_carries_its_creation_time_to_the_millisecond() -> None:
    made = datetime(2026, 11, 20, 8, 30, 15, 123000, tzinfo=UTC)
    for kind in ("share", "ugcPost", "activity"):
        assert created_at_of(urn_made_at(made, 12345, kind)) == made
    # The low 22 bits are LinkedIn's own (a sequence, a shard): they do not move the time.
    assert created_at_of(urn_made_at(made, (1 << 22) - 1)) == made


def test_a_reported_post_dates_from_its_id_when_that_is_plausible() -> None:
    ten_days_ago = NOW - timedelta(days=10)
    assert reported_publication_time(urn_made_at(ten_days_ago, 7), NOW) == ten_days_ago
    # A little ahead of our clock (another machine's): taken as now, never in the future.
    ahead = NOW + timedelta(minutes=2)
    assert reported_publication_time(urn_made_at(ahead, 7), NOW) == NOW


def test_an_implausible_or_unreadable_id_dates_the_post_when_reported() -> None:
    assert reported_publication_time(urn_made_at(NOW - timedelta(days=400), 7), NOW) == NOW
    assert reported_publication_time(urn_made_at(NOW + timedelta(hours=1), 7), NOW) == NOW
    assert reported_publication_time("urn:li:share:1", NOW) == NOW
    assert reported_publication_time("urn:li:share:" + "9" * 30, NOW) == NOW
    assert created_at_of("urn:li:person:abc") is None
