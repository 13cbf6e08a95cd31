"""Migration identity_0001: a user who was a member of several organisations becomes one account
per organisation, a platform admin keeps an account of no organisation, and sessions end."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from sqlalchemy import create_engine, text

from advocacy_shared.envelope import utc_now
from advocacy_shared.migrations import upgrade


def test_members_of_several_organisations_get_an_account_in_each(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade("advocacy_gateway", url, "gateway", "0004")
    acme, globex, ada, root = (uuid4().hex for _ in range(4))
    now = utc_now()
    engine = create_engine(url)
    with engine.begin() as db:
        for org, slug in ((acme, "acme"), (globex, "globex")):
            db.execute(
                text("INSERT INTO organisations VALUES (:id, :slug, :slug, :at)"),
                {"id": org, "slug": slug, "at": now},
            )
        for user, email, admin in ((ada, "ada@x.example", False), (root, "root@x.example", True)):
            db.execute(
                text("INSERT INTO users VALUES (:id, :email, 'N', 'hash', :admin, 0, :at)"),
                {"id": user, "email": email, "admin": admin, "at": now},
            )
        for org, user, role in (
            (acme, ada, "org_admin"),
            (globex, ada, "analyst"),
            (acme, root, "analyst"),
        ):
            db.execute(
                text("INSERT INTO memberships VALUES (:org, :user, :role, :at)"),
                {"org": org, "user": user, "role": role, "at": now},
            )
        db.execute(
            text("INSERT INTO user_sessions VALUES ('h', :user, 'c', :at, :at)"),
            {"user": ada, "at": now},
        )

    upgrade("advocacy_gateway", url, "gateway", "head")

    with engine.connect() as db:
        accounts = db.execute(
            text(
                "SELECT u.email, u.organisation_id, u.is_platform_admin, m.organisation_id, m.role"
                " FROM users u LEFT JOIN memberships m ON m.user_id = u.id ORDER BY u.email, m.role"
            )
        ).all()
        sessions = db.execute(text("SELECT count(*) FROM user_sessions")).scalar()
    engine.dispose()
    rows = {
        (email, owner, bool(admin), member, role) for email, owner, admin, member, role in accounts
    }
    assert rows == {
        ("ada@x.example", acme, False, acme, "org_admin"),
        ("ada@x.example", globex, False, globex, "analyst"),
        ("root@x.example", None, True, None, None),
        ("root@x.example", acme, False, acme, "analyst"),
    }
    assert sessions == 0
