"""The post state machine and the rules of who may post by which path: plain logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from advocacy_content import posts
from advocacy_content.models import PostRecord
from advocacy_content.posting import midnight, next_midnight
from advocacy_shared.contracts.errors import Conflict, Invalid


def author(**changes: object) -> posts.Author:
    values: dict[str, object] = {
        "ambassador_id": uuid4(),
        "program_id": None,
        "leadership": False,
        "state": "connected",
        "allows_posting": True,
        "connection": "connected",
        "may_post_by_api": True,
    }
    values.update(changes)
    return posts.Author(**values)  # type: ignore[arg-type]


def record(state: str) -> PostRecord:
    return PostRecord(
        organisation_id=uuid4(),
        ambassador_id=uuid4(),
        text="Hello",
        path="api",
        state=state,
        created_by="test",
    )


def test_the_path_follows_consent_and_the_connection() -> None:
    assert posts.path_for(author(), "auto") == "api"
    assert posts.path_for(author(), "manual") == "manual"
    without_scope = author(may_post_by_api=False)
    assert posts.path_for(without_scope, "auto") == "manual"
    with pytest.raises(Conflict, match="w_member_social") as insisted:
        posts.path_for(without_scope, "api")
    assert insisted.value.detail == {"rule": "linkedin_connection", "connection": "connected"}
    for connection in ("not_connected", "expired"):
        unconnected = author(connection=connection, may_post_by_api=False)
        with pytest.raises(Conflict, match="path=manual"):
            posts.path_for(unconnected, "auto")
        assert posts.path_for(unconnected, "manual") == "manual"
    with pytest.raises(Conflict, match="consent does not allow posting"):
        posts.path_for(author(allows_posting=False), "manual")
    for state in ("invited", "offboarded"):
        with pytest.raises(Conflict, match=f"is {state}"):
            posts.path_for(author(state=state), "auto")


def test_only_the_documented_moves_are_allowed() -> None:
    now = datetime.now(UTC)
    allowed = {
        ("draft", "scheduled"),
        ("scheduled", "posting"),
        ("posting", "published"),
        ("posting", "scheduled"),
        ("posting", "failed"),
        ("failed", "scheduled"),
        ("scheduled", "cancelled"),
        ("scheduled", "published"),
    }
    for start, to in allowed:
        post = record(start)
        posts.move(post, to, now)
        assert post.state == to
    for final in ("published", "cancelled"):
        for to in posts.TRANSITIONS:
            with pytest.raises(Conflict, match="allowed: none"):
                posts.move(record(final), to, now)
    with pytest.raises(Conflict, match="a draft post cannot become posting"):
        posts.move(record("draft"), "posting", now)


def test_a_schedule_in_the_past_or_without_a_zone_is_refused() -> None:
    now = datetime.now(UTC)
    assert posts.not_in_past(None, now) is None
    assert posts.not_in_past(now - timedelta(seconds=2), now) == now  # a round trip late: now
    with pytest.raises(Invalid, match="in the past") as past:
        posts.not_in_past(now - timedelta(minutes=1), now)
    assert past.value.detail == {"rule": "schedule_in_past"}
    with pytest.raises(Invalid, match="time zone"):
        posts.not_in_past(datetime.now() + timedelta(hours=1), now)


def test_daily_budgets_reset_at_midnight_utc() -> None:
    evening = datetime(2026, 12, 2, 23, 59, tzinfo=UTC)
    assert midnight(evening) == datetime(2026, 12, 2, tzinfo=UTC)
    assert next_midnight(evening) == datetime(2026, 12, 3, 0, 0, 1, tzinfo=UTC)
