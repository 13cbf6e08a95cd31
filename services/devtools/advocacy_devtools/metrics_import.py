"""`advocacy metrics import FILE`: snapshots of post analytics from a CSV or JSON file, through
the gateway's import API over HTTP, so the same validation applies as to any client.

The file is sent in requests of up to 1000 rows (JSON, each row keeping its line number in the
file; halved while the gateway finds a request too large), with a progress bar. A bad row is
reported (row number, reason) and the import goes on:
the valid rows are kept, and a row already stored (same post, observed_at, source) is counted as
a duplicate, so running an import twice stores nothing twice. Columns: see docs/metrics.md.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress

from advocacy_gateway.routes.metrics import ImportRefused, rows_from_csv, rows_from_json
from advocacy_shared.contracts.metrics import MAX_IMPORT_ROWS


@dataclass(frozen=True)
class Failure:
    row: int
    reason: str


@dataclass
class MetricsImportReport:
    stored: int = 0
    duplicates: int = 0
    failures: list[Failure] = field(default_factory=list)

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as output:
            writer = csv.writer(output)
            writer.writerow(["row", "reason"])
            for failure in self.failures:
                writer.writerow([failure.row, failure.reason])


def read_file(path: Path) -> list[dict[str, Any]]:
    """The file's rows, each with its number (`row`): CSV by default, JSON for `.json`."""
    text = path.read_text(encoding="utf-8-sig")
    rows: list[dict[str, Any]] = (
        rows_from_json(json.loads(text)) if path.suffix.lower() == ".json" else rows_from_csv(text)
    )
    return rows


async def import_metrics(
    path: Path, client: httpx.AsyncClient, organisation_id: str, console: Console | None = None
) -> MetricsImportReport:
    """Import every row; the client carries the gateway's URL and a key that may manage metrics."""
    rows = read_file(path)
    report = MetricsImportReport()
    url = f"/api/v1/orgs/{organisation_id}/metrics/imports"
    with Progress(console=console, transient=False, disable=console is None) as progress:
        task = progress.add_task("importing snapshots", total=len(rows))
        for start in range(0, len(rows), MAX_IMPORT_ROWS):
            chunk = rows[start : start + MAX_IMPORT_ROWS]
            await _send(client, url, chunk, report)
            progress.advance(task, len(chunk))
    report.failures.sort(key=lambda f: f.row)
    return report


async def _send(
    client: httpx.AsyncClient, url: str, chunk: list[dict[str, Any]], report: MetricsImportReport
) -> None:
    """One request; a body the gateway finds too large (413) is sent again in halves."""
    try:
        response = await client.post(url, json={"rows": chunk})
    except httpx.HTTPError as exc:
        report.failures += [Failure(r["row"], str(exc)) for r in chunk]
        return
    if response.status_code == 413 and len(chunk) > 1:
        half = len(chunk) // 2
        await _send(client, url, chunk[:half], report)
        await _send(client, url, chunk[half:], report)
        return
    if not response.is_success:
        reason = _detail(response)
        report.failures += [Failure(r["row"], reason) for r in chunk]
        return
    body = response.json()
    report.stored += body["stored"]
    report.duplicates += body["duplicates"]
    report.failures += [Failure(f["row"], f["reason"]) for f in body["failures"]]


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail") or response.reason_phrase
    except ValueError:
        detail = response.reason_phrase
    return f"{response.status_code}: {detail}"


def print_report(report: MetricsImportReport, console: Console) -> None:
    console.print(
        f"{report.stored} stored, {report.duplicates} duplicates, {len(report.failures)} failed"
    )
    for failure in report.failures[:200]:
        console.print(f"  row {failure.row}: {failure.reason}")
    if len(report.failures) > 200:
        console.print(f"  ... and {len(report.failures) - 200} more (see --report)")


__all__ = ["ImportRefused", "MetricsImportReport", "import_metrics", "print_report", "read_file"]
