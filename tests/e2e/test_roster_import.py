"""`advocacy roster import`: the CLI against a live gateway over real HTTP (a loopback server
serving the test's gateway), upserting by userName, reporting bad rows and keeping the rest."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from advocacy_devtools import cli
from advocacy_devtools.embedded_nats import free_port
from tests.conftest import Platform
from tests.e2e.test_scim import auth, organisation_with_key, user_json
from tests.loopback import LoopbackServer

HEADER = (
    "userName,externalId,active,givenName,familyName,email,department,manager,"
    "jobFamily,hardToRecruit,leadership,languages,topics"
)


async def test_the_csv_import_upserts_good_rows_and_reports_bad_ones(
    platform: Platform, tmp_path: Path
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    existing = await platform.http.post(
        "/scim/v2/Users", json=user_json("bob@acme.dk", title="Intern"), headers=auth(key)
    )
    assert existing.status_code == 201
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\n".join(
            [
                HEADER,
                "ada@acme.dk,HR-1,true,Ada,Lovelace,ada@acme.dk,R&D,HR-9,engineering,yes,no,en;da,ai",
                ",HR-2,true,No,Name,,,,,,,,",
                "BOB@acme.dk,HR-3,false,Bob,Builder,bob@acme.dk,Sales,,sales,no,yes,da,",
                "cy@acme.dk,HR-4,maybe,Cy,Borg,,,,,,,,",
                f"dee@acme.dk,{'x' * 250},true,Dee,Dee,,,,,,,,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    report = tmp_path / "errors.csv"
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    argv = [
        "roster",
        "import",
        str(roster),
        "--url",
        f"http://127.0.0.1:{server.port}",
        "--key",
        key,
        "--report",
        str(report),
    ]
    try:
        with pytest.raises(SystemExit) as exited:
            await asyncio.to_thread(cli.main, argv)
    finally:
        await server.stop()

    assert exited.value.code == 1  # some rows failed
    failures = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [(f["row"], f["userName"]) for f in failures] == [
        ("3", ""),
        ("5", "cy@acme.dk"),
        ("6", "dee@acme.dk"),
    ]
    assert failures[0]["reason"] == "userName is empty"
    assert failures[1]["reason"] == "active must be true or false"
    assert failures[2]["reason"].startswith("400: ")
    listed = (await platform.http.get("/scim/v2/Users", headers=auth(key))).json()
    users = {u["userName"]: u for u in listed["Resources"]}
    assert set(users) == {"ada@acme.dk", "BOB@acme.dk"}  # bob was replaced, not duplicated
    assert users["BOB@acme.dk"]["id"] == existing.json()["id"]
    assert users["BOB@acme.dk"]["active"] is False
    assert "title" not in users["BOB@acme.dk"]  # a replacement: what the row leaves out goes
    extension = users["ada@acme.dk"]["urn:ietf:params:scim:schemas:extension:advocacy:2.0:User"]
    assert extension["languages"] == ["en", "da"]
    assert extension["hardToRecruit"] is True


async def test_an_import_without_a_key_or_file_does_nothing(tmp_path: Path) -> None:
    missing = await cli.roster_import(tmp_path / "none.csv", "http://127.0.0.1:1", "k", None)
    no_key = await cli.roster_import(tmp_path / "none.csv", "http://127.0.0.1:1", None, None)
    assert (missing, no_key) == (2, 2)
