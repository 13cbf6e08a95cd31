"""Metrics: aggregates (reach, engagement, earned media value), employee posts against the
company page, participation, momentum, daily rollups, EMV rates, and the bulk import of
snapshots (CSV or JSON) with a per-row error report. See docs/metrics.md.

The leadership track is reported apart: its figures sit under `/metrics/leadership/...`, which
needs `metrics.leadership.read`; a leadership post's own metrics are a 404 to anyone else.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access, require
from advocacy_gateway.problems import ProblemError
from advocacy_gateway.routes.common import COMMON_PROBLEMS, SERVICE_PROBLEMS, State
from advocacy_gateway.routes.forward import get, mount, put
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.metrics import (
    COMPARE_COMPANY,
    FIRST_DAY,
    GET_COMPANY_PAGE,
    GET_MOMENTUM,
    GET_PARTICIPATION,
    GET_POST_METRICS,
    GET_SUMMARY,
    IMPORT_SNAPSHOTS,
    LAST_DAY,
    LIST_EMV_RATES,
    LIST_ROLLUPS,
    MAX_IMPORT_ROWS,
    SET_COMPANY_PAGE,
    SET_EMV_RATES,
    CompanyPageFields,
    Dimension,
    EmvRatesFields,
    ImportResult,
    ImportRow,
    ImportSnapshots,
    PostMetrics,
    RowFailure,
)

READ, MANAGE = Permission.METRICS_READ, Permission.METRICS_MANAGE
LEADERSHIP = Permission.METRICS_LEADERSHIP_READ

ProgramId = Annotated[UUID | None, Query(description="One program; every program by default")]
Since = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="First day (UTC); 28 days before `until`"),
]
Until = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="Last day (UTC), inclusive; today by default"),
]
AsOf = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="The day to measure up to; today by default"),
]
CurrencyParam = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=3,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217; the organisation's default (DKK)",
    ),
]
Weeks = Annotated[int, Query(ge=2, le=52, description="How many weeks, the current one last")]
DimensionPath = Annotated[Dimension, Path(description="What the rollup groups by")]
CurrencyPath = Annotated[
    str, Path(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="ISO 4217")
]

PERIOD = {"program_id": ProgramId, "since": Since, "until": Until}


def _visible_post(post: PostMetrics, access: Access | None, _state: GatewayState) -> PostMetrics:
    if post.leadership and not (
        access is not None and access.principal.may(access.organisation.id, LEADERSHIP)
    ):
        raise ProblemError(404, "not-found", f"no post {post.post_id}")
    return post


# One route a line (or three): a table reads better unformatted.
# fmt: off
ROUTES = [
    get("/metrics/summary", GET_SUMMARY, READ, "metrics_summary",
        "Reach, engagement, engagement rate and earned media value (leadership apart)",
        params={**PERIOD, "currency": CurrencyParam}, fixed={"track": "ambassadors"}),
    get("/metrics/posts/{post_id}", GET_POST_METRICS, READ, "post_metrics",
        "One post's latest values against the company page's posts of its 28 days",
        present=_visible_post),
    get("/metrics/company-comparison", COMPARE_COMPANY, READ, "company_comparison",
        "Employee posts against company-page posts: reach and engagement per post, ratios",
        params=PERIOD),
    get("/metrics/participation", GET_PARTICIPATION, READ, "participation",
        "Share of enrolled ambassadors who posted in the last 28 days",
        params={"program_id": ProgramId, "as_of": AsOf}, fixed={"track": "ambassadors"}),
    get("/metrics/momentum", GET_MOMENTUM, READ, "momentum",
        "Weekly active ambassadors, the trend, and days since each one's last post",
        params={"program_id": ProgramId, "weeks": Weeks, "as_of": AsOf}),
    get("/metrics/rollups/{dimension}", LIST_ROLLUPS, READ, "metrics_rollups",
        "Daily rollups by ambassador, program, discipline, segment or track",
        params={"dimension": DimensionPath, **PERIOD}, fixed={"track": "ambassadors"}),
    get("/metrics/leadership", GET_SUMMARY, LEADERSHIP, "leadership_metrics",
        "The leadership track's reach, engagement and earned media value, reported apart",
        params={**PERIOD, "currency": CurrencyParam}, fixed={"track": "leadership"}),
    get("/metrics/leadership/participation", GET_PARTICIPATION, LEADERSHIP,
        "leadership_participation", "Share of enrolled leaders who posted in the last 28 days",
        params={"program_id": ProgramId, "as_of": AsOf}, fixed={"track": "leadership"}),
    get("/metrics/leadership/rollups/{dimension}", LIST_ROLLUPS, LEADERSHIP,
        "leadership_rollups", "The leadership track's daily rollups",
        params={"dimension": DimensionPath, **PERIOD}, fixed={"track": "leadership"}),
    get("/metrics/emv-rates", LIST_EMV_RATES, READ, "list_emv_rates",
        "Earned media value rates per currency (DKK defaults until set)"),
    put("/metrics/emv-rates/{currency}", SET_EMV_RATES, MANAGE, "set_emv_rates",
        "Set the earned media value rates of one currency (optionally the default one)",
        body=EmvRatesFields, body_as="rates", params={"currency": CurrencyPath}),
    get("/metrics/linkedin/company-page", GET_COMPANY_PAGE, READ, "get_company_page",
        "The organisation's LinkedIn company page (the baseline) and how its last read went"),
    put("/metrics/linkedin/company-page", SET_COMPANY_PAGE, MANAGE, "set_company_page",
        "Set the LinkedIn company page and a page admin's token; its posts' statistics become "
        "the company baseline", body=CompanyPageFields, body_as="page"),
]
# fmt: on

router = mount(
    APIRouter(
        prefix="/api/v1/orgs/{org_id}",
        tags=["metrics"],
        responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
    ),
    ROUTES,
)

# --- Bulk import ---------------------------------------------------------------------------------

COLUMNS = (
    "post_id",
    "company_post_urn",
    "program_id",
    "observed_at",
    "source",
    "impressions",
    "members_reached",
    "reactions",
    "comments",
    "reshares",
    "clicks",
)
ALIASES = {
    "date": "observed_at",
    "reposts": "reshares",
    "shares": "reshares",
    "unique_impressions": "members_reached",
    "post_urn": "company_post_urn",
}


class ImportRefused(Exception):
    """The whole file is unusable (not CSV or JSON of rows, unknown columns, too many rows)."""


def _column(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key, key)


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a CSV file with a header (column names as `COLUMNS`, any case; a few aliases of
    LinkedIn's exports), each with its line number as `row`; empty cells are left out."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {name: _column(name) for name in reader.fieldnames or [] if name}
    unknown = sorted(c for c in columns.values() if c not in COLUMNS)
    if unknown:
        raise ImportRefused(f"unknown columns: {', '.join(unknown)}")
    rows = []
    for record in reader:
        row: dict[str, Any] = {"row": reader.line_num}
        for name, value in record.items():
            if name in columns and value is not None and value.strip():
                row[columns[name]] = value.strip()
        rows.append(row)
    return rows


def rows_from_json(payload: Any) -> list[dict[str, Any]]:
    """A JSON list of rows, or `{"rows": [...]}`; a row without `row` is numbered from 1."""
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        payload = payload["rows"]
    if not isinstance(payload, list):
        raise ImportRefused('send a JSON list of rows or {"rows": [...]}')
    rows = []
    for number, item in enumerate(payload, start=1):
        if not isinstance(item, dict):
            rows.append({"row": number, "_invalid": "a row must be a JSON object"})
            continue
        rows.append({"row": number, **{_column(k): v for k, v in item.items()}})
    return rows


def parse_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[ImportRow], list[RowFailure]]:
    """Each row as an `ImportRow` (a time without a zone is UTC), or its failure."""
    good: list[ImportRow] = []
    failures: list[RowFailure] = []
    for raw in rows:
        number = raw.get("row") if isinstance(raw.get("row"), int) else 0
        if "_invalid" in raw:
            failures.append(RowFailure(row=number, reason=str(raw["_invalid"])))
            continue
        try:
            values = {**raw, "observed_at": _utc(raw.get("observed_at"))}
            good.append(ImportRow.model_validate(values))
        except (ValidationError, ValueError) as exc:
            failures.append(RowFailure(row=number, reason=_reason(exc)))
    return good, failures


def _utc(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # the model says why
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'row'}: {err['msg']}"
            for err in exc.errors(include_input=False)
        )[:500]
    return str(exc)[:500]


async def import_rows(
    state: GatewayState, organisation_id: UUID, rows: list[dict[str, Any]]
) -> ImportResult:
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportRefused(f"at most {MAX_IMPORT_ROWS} rows a request; split the file")
    good, failures = parse_rows(rows)
    result = ImportResult(stored=0, duplicates=0, failures=[])
    if good:
        result = await state.rpc.call(
            IMPORT_SNAPSHOTS, ImportSnapshots(organisation_id=organisation_id, rows=good)
        )
    return result.model_copy(
        update={"failures": sorted([*failures, *result.failures], key=lambda f: f.row)}
    )


ROW_COLUMNS = ", ".join(f"`{c}`" for c in COLUMNS)


@router.post(
    "/metrics/imports",
    name="import_snapshots",
    summary="Import snapshots (CSV or JSON, up to 1000 rows a request) with a per-row report",
    response_model=ImportResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"Columns: {ROW_COLUMNS}. Each row names `post_id` (an ambassador "
            "post) or `company_post_urn` (a company-page post). Times are ISO 8601 (UTC when "
            "no zone is given).",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {"type": "array", "items": ImportRow.model_json_schema()}
                },
            },
        }
    },
)
async def import_snapshots(
    request: Request,
    access: Annotated[Access, Depends(require(MANAGE))],
    state: State,
) -> ImportResult:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if content_type in {"text/csv", "application/csv"}:
            rows = rows_from_csv(text)
        elif content_type in {"application/json", ""}:
            rows = rows_from_json(json.loads(text))
        else:
            raise ProblemError(415, "unsupported-media-type", "send text/csv or application/json")
        return await import_rows(state, access.organisation.id, rows)
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ProblemError(400, "malformed-body", f"unreadable file: {exc}"[:300]) from exc
    except ImportRefused as exc:
        raise ProblemError(422, "invalid-import", str(exc)) from exc
