"""`advocacy roster import FILE.csv`: the HR roster from a CSV file, through the gateway's SCIM
API over HTTP, so the same validation applies as to any SCIM client.

Each row is upserted by userName (created, or replaced when it exists). A bad row is reported
(row number, userName, reason) and the import goes on: the valid rows are kept. Columns (a header
row is required; only userName is required; booleans are true/false/yes/no/1/0; lists are
separated by `;`):

    userName, externalId, active, givenName, familyName, displayName, email, title,
    employeeNumber, department, manager, jobFamily, hardToRecruit, leadership, languages, topics
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress

from advocacy_gateway.scim.users import ADVOCACY_SCHEMA, ENTERPRISE_SCHEMA, USER_SCHEMA

COLUMNS = (
    "userName",
    "externalId",
    "active",
    "givenName",
    "familyName",
    "displayName",
    "email",
    "title",
    "employeeNumber",
    "department",
    "manager",
    "jobFamily",
    "hardToRecruit",
    "leadership",
    "languages",
    "topics",
)
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


class RowError(Exception):
    """A row that cannot become a SCIM User, or that the gateway refused."""


@dataclass(frozen=True)
class RowFailure:
    row: int  # the line in the file (the header is line 1)
    user_name: str
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    replaced: int = 0
    failures: list[RowFailure] = field(default_factory=list)

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as output:
            writer = csv.writer(output)
            writer.writerow(["row", "userName", "reason"])
            for failure in self.failures:
                writer.writerow([failure.row, failure.user_name, failure.reason])


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        unknown = set(reader.fieldnames or []) - set(COLUMNS)
        if unknown:
            raise RowError(f"unknown columns: {', '.join(sorted(unknown))}")
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def user_of_row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a SCIM User; a missing userName or a malformed boolean is a RowError."""
    if not row.get("userName"):
        raise RowError("userName is empty")
    user: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, ADVOCACY_SCHEMA],
        "userName": row["userName"],
        "active": _boolean(row, "active", default=True),
    }
    simple = {"externalId": "externalId", "displayName": "displayName", "title": "title"}
    user |= {scim: row[column] for column, scim in simple.items() if row.get(column)}
    name = {k: row[k] for k in ("givenName", "familyName") if row.get(k)}
    if name:
        user["name"] = name
    if row.get("email"):
        user["emails"] = [{"value": row["email"], "type": "work", "primary": True}]
    enterprise: dict[str, Any] = {k: row[k] for k in ("employeeNumber", "department") if row.get(k)}
    if row.get("manager"):
        enterprise["manager"] = {"value": row["manager"]}
    user[ENTERPRISE_SCHEMA] = enterprise
    ours: dict[str, Any] = {
        "hardToRecruit": _boolean(row, "hardToRecruit", default=False),
        "leadership": _boolean(row, "leadership", default=False),
        "languages": _list(row.get("languages", "")),
        "topics": _list(row.get("topics", "")),
    }
    if row.get("jobFamily"):
        ours["jobFamily"] = row["jobFamily"]
    user[ADVOCACY_SCHEMA] = ours
    return user


def _boolean(row: dict[str, str], column: str, default: bool) -> bool:
    value = row.get(column, "").lower()
    if not value:
        return default
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise RowError(f"{column} must be true or false")


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(";") if item.strip()]


class ScimUpserter:
    """Creates or replaces one User by userName through the gateway's SCIM API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def upsert(self, user: dict[str, Any]) -> str:
        existing = await self._find(user["userName"])
        if existing is None:
            response = await self.client.post("/scim/v2/Users", json=user)
            _raise_for(response)
            return "created"
        response = await self.client.put(f"/scim/v2/Users/{existing}", json=user)
        _raise_for(response)
        return "replaced"

    async def _find(self, user_name: str) -> str | None:
        query = f"userName eq {json.dumps(user_name)}"
        response = await self.client.get("/scim/v2/Users", params={"filter": query})
        _raise_for(response)
        resources = response.json().get("Resources") or []
        return str(resources[0]["id"]) if resources else None


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail") or response.reason_phrase
    except ValueError:
        detail = response.reason_phrase
    raise RowError(f"{response.status_code}: {detail}")


async def check_gateway(client: httpx.AsyncClient) -> None:
    """One request before any row: an unreachable gateway raises `httpx.HTTPError`, a refused
    key (401, 403) a `RowError`, so that nothing is reported row by row when nothing can run."""
    response = await client.get("/scim/v2/ServiceProviderConfig")
    if response.status_code in {401, 403}:
        _raise_for(response)


async def import_roster(
    path: Path, client: httpx.AsyncClient, console: Console | None = None
) -> ImportReport:
    """Import every row; the client carries the gateway's URL and the hr key."""
    rows = list(read_rows(path))
    report = ImportReport()
    upserter = ScimUpserter(client)
    with Progress(console=console, transient=False, disable=console is None) as progress:
        task = progress.add_task("importing the roster", total=len(rows))
        for line, row in rows:
            try:
                outcome = await upserter.upsert(user_of_row(row))
            except RowError as exc:
                report.failures.append(RowFailure(line, row.get("userName", ""), str(exc)))
            except httpx.HTTPError as exc:
                report.failures.append(RowFailure(line, row.get("userName", ""), str(exc)))
            else:
                report.created += outcome == "created"
                report.replaced += outcome == "replaced"
            progress.advance(task)
    return report


def print_report(report: ImportReport, console: Console) -> None:
    console.print(
        f"{report.created} created, {report.replaced} replaced, {len(report.failures)} failed"
    )
    for failure in report.failures:
        console.print(f"  row {failure.row} ({failure.user_name or '-'}): {failure.reason}")
