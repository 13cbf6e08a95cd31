"""The rough edges a new user hit (issue 12), one test each, through the API as they met them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlmodel import col

from advocacy_ambassadors.models import InvitationRecord
from advocacy_devtools import cli
from advocacy_devtools.embedded_nats import free_port
from tests.conftest import Platform
from tests.e2e.test_ambassadors import invite
from tests.e2e.test_invitations import holder, issue
from tests.e2e.test_planner import READINESS, new_program
from tests.e2e.test_scim import auth, organisation_with_key
from tests.e2e.test_skeleton import create_organisation
from tests.loopback import LoopbackServer

ROSTER = "userName,email\nada@acme.dk,ada@acme.dk\nbob@acme.dk,bob@acme.dk\n"


async def test_roster_import_goes_where_advocacy_run_serves_without_url(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    monkeypatch.setenv("ADVOCACY_HTTP_PORT", str(server.port))  # as `make run` is configured
    try:
        code = await cli.roster_import(roster, None, key, None)
    finally:
        await server.stop()
    assert code == 0
    found = await platform.http.get(
        "/scim/v2/Users", params={"filter": 'userName eq "bob@acme.dk"'}, headers=auth(key)
    )
    assert found.json()["totalResults"] == 1


async def test_roster_import_that_cannot_run_exits_2_without_a_report_per_row(
    platform: Platform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    try:
        refused = await cli.roster_import(
            roster, f"http://127.0.0.1:{server.port}", "not-a-key", None
        )
    finally:
        await server.stop()
    assert refused == 2
    said = capsys.readouterr().err
    assert "401" in said
    assert "row 2" not in said
    unreachable = await cli.roster_import(roster, f"http://127.0.0.1:{free_port()}", "k", None)
    assert unreachable == 2
    said = capsys.readouterr().err
    assert "cannot reach the gateway" in said
    assert "row 2" not in said


async def test_a_replaced_invitation_token_is_the_same_404_as_an_unknown_one(
    platform: Platform,
) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    first = await issue(platform, org, ada["id"])
    await issue(platform, org, ada["id"])  # a new link replaces the first

    replaced = await platform.http.get("/api/v1/invitation", headers=holder(first))
    unknown = await platform.http.get(
        "/api/v1/invitation", headers={"Invitation-Token": f"{org.replace('-', '')}.nothing"}
    )
    assert replaced.status_code == unknown.status_code == 404
    same = {key: value for key, value in unknown.json().items() if key != "correlation_id"}
    assert {key: replaced.json()[key] for key in same} == same
    # Nothing of the person or the organisation; the correlation id is random hex, which can
    # hold "ada" (it did once), so it is left out of the search.
    told = str({key: value for key, value in replaced.json().items() if key != "correlation_id"})
    for secret in ("ada", ada["id"], "Acme", org):
        assert secret not in told, secret


async def test_an_expired_invitation_does_not_ask_to_be_accepted(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    invitation = await issue(platform, org, ada["id"])
    async with platform.runtimes["ambassadors"].sessions() as session:
        await session.execute(
            update(InvitationRecord)
            .where(col(InvitationRecord.id) == UUID(invitation["id"]))
            .values(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        await session.commit()
    opened = await platform.http.get("/api/v1/invitation", headers=holder(invitation))
    assert opened.json()["status"] == "expired"
    connect = await platform.http.post("/api/v1/invitation/linkedin", headers=holder(invitation))
    assert connect.status_code == 409
    detail = connect.json()["detail"]
    assert "expired" in detail
    assert "can no longer be accepted" in detail
    assert "accept it" not in detail


async def test_the_playbook_mismatch_names_what_is_unknown(platform: Platform) -> None:
    org, _ = await new_program(platform)
    response = await platform.http.post(
        f"/api/v1/orgs/{org}/programs",
        json={
            "name": "Other",
            "owner": "Head of communications",
            "objectives": ["World domination"],
            "disciplines": ["podcasting"],
            "capacity": {"fte_share": 0.5},
            "start_date": "2027-01-04",
        },
        headers=platform.auth,
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "unknown discipline 'podcasting'" in detail
    assert "unknown objective 'World domination'" in detail
    assert "known_challenges" not in detail
    assert "known_disciplines" not in detail


async def test_a_readiness_score_is_a_number_not_a_string(platform: Platform) -> None:
    org, program = await new_program(platform)
    base = f"/api/v1/orgs/{org}/programs/{program['id']}"
    as_text = {**READINESS, "culture": {"leadership_openness": "3", "visibility_appetite": 3}}
    response = await platform.http.post(f"{base}/readiness", json=as_text, headers=platform.auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "leadership_openness"
    history = await platform.http.get(f"{base}/readiness", headers=platform.auth)
    assert history.json()["items"] == []


async def test_consent_under_a_published_version_must_be_that_text(platform: Platform) -> None:
    org = (await create_organisation(platform, "Acme"))["id"]
    ada = await invite(platform, org, "ada@acme.dk")
    base = f"/api/v1/orgs/{org}/ambassadors/{ada['id']}"
    other_text: dict[str, Any] = {
        "consent_version": "1",  # the platform's version 1, seeded for every organisation
        "consent_text": "I allow anything at all.",
        "allows_posting": True,
        "allows_analytics": True,
    }
    refused = await platform.http.post(f"{base}/consent", json=other_text, headers=platform.auth)
    assert refused.status_code == 422
    assert "consent version 1 is another text" in refused.json()["detail"]
    texts = await platform.http.get(f"/api/v1/orgs/{org}/consent-texts", headers=platform.auth)
    version_1 = next(t for t in texts.json()["items"] if t["version"] == "1")
    same = {**other_text, "consent_text": version_1["text"]}
    granted = await platform.http.post(f"{base}/consent", json=same, headers=platform.auth)
    assert granted.status_code == 200, granted.text
