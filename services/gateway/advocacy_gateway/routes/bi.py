"""The BI export: each dataset of docs/metrics.md ("BI export") as Parquet or CSV, streamed.

The gateway asks the metrics service for one page of rows at a time (`EXPORT_PAGE`) and writes
it to the response as it comes (a Parquet row group, or CSV lines), so neither side ever holds a
whole table. The export covers the rows written up to `until` (now minus
`bi_export_settle_seconds`), sent in the `Advocacy-Export-Until` header before the first byte:
the next export passes it as `since` to get only what changed since. Leadership rows are
included only for callers with `metrics.leadership.read`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access, require
from advocacy_gateway.routes.common import COMMON_PROBLEMS, SERVICE_PROBLEMS, State
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.metrics import (
    BI_COLUMNS,
    BI_INCREMENTAL,
    EXPORT_PAGE,
    MAX_BI_PAGE,
    BiCell,
    BiDataset,
    ExportPage,
    ExportRows,
)
from advocacy_shared.envelope import utc_now

if TYPE_CHECKING:
    import pyarrow as pa

UNTIL_HEADER = "Advocacy-Export-Until"
PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
ROW_GROUP_ROWS = 10 * MAX_BI_PAGE


@cache
def arrow_types() -> dict[str, pa.DataType]:
    """Arrow is imported at the first Parquet export, not with the gateway: it and numpy cost
    every gateway process's start about half a second of CPU, for a route few callers use."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "int64": pa.int64(),
        "float64": pa.float64(),
    }


def arrow_schema(dataset: str) -> pa.Schema:
    import pyarrow as pa

    types = arrow_types()
    return pa.schema([pa.field(name, types[kind]) for name, kind in BI_COLUMNS[dataset]])


def _typed(kind: str, value: BiCell) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if kind == "timestamp":
        return datetime.fromisoformat(value).astimezone(UTC)
    if kind == "date":
        return date.fromisoformat(value)
    return value


def arrow_table(dataset: str, rows: list[list[BiCell]], schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    columns, types = BI_COLUMNS[dataset], arrow_types()
    arrays = [
        pa.array([_typed(kind, row[n]) for row in rows], type=types[kind])
        for n, (_name, kind) in enumerate(columns)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


class _Chunks(io.RawIOBase):
    """A write-only file that hands what was written to the response, chunk by chunk."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


async def _pages(
    state: GatewayState, first: ExportRows, request: ExportPage
) -> AsyncIterator[list[list[BiCell]]]:
    page = first
    while True:
        yield page.rows
        if page.after is None:
            return
        request = request.model_copy(update={"after": page.after})
        page = await state.rpc.call(EXPORT_PAGE, request)


async def parquet_stream(
    state: GatewayState, first: ExportRows, request: ExportPage
) -> AsyncIterator[bytes]:
    import pyarrow.parquet as pq

    schema = arrow_schema(request.dataset)
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    pending: list[list[BiCell]] = []
    wrote = False
    async for rows in _pages(state, first, request):
        pending.extend(rows)
        if len(pending) >= ROW_GROUP_ROWS:
            writer.write_table(arrow_table(request.dataset, pending, schema))
            pending, wrote = [], True
            yield sink.take()
    if pending or not wrote:
        writer.write_table(arrow_table(request.dataset, pending, schema))
    writer.close()
    yield sink.take()


def csv_text(value: BiCell) -> str:
    if value is None:
        return ""
    return str(value)


async def csv_stream(
    state: GatewayState, first: ExportRows, request: ExportPage
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow([name for name, _kind in BI_COLUMNS[request.dataset]])
    async for rows in _pages(state, first, request):
        out.writerows([csv_text(v) for v in row] for row in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode()


def _column_list(dataset: str) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in BI_COLUMNS[dataset])


DESCRIPTION = (
    "Streams one BI dataset as Parquet (`format=parquet`, zstd, row groups of up to "
    f"{ROW_GROUP_ROWS} rows) or CSV (header first; empty cell = null; times ISO 8601 UTC). "
    "`post_days`, `posts` and `rollups` follow `since`: only rows written after it (and up to "
    f"the `{UNTIL_HEADER}` response header, the next export's `since`); the others are whole. "
    "Leadership rows only for callers who may see leadership metrics. Columns: "
    + "; ".join(f"**{d}**: {_column_list(d)}" for d in BI_COLUMNS)
)

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}",
    tags=["metrics"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
)


@router.get(
    "/metrics/export/{dataset}",
    name="export_bi_dataset",
    summary="A BI dataset as Parquet or CSV, incremental by `since`",
    description=DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The dataset",
            "headers": {
                UNTIL_HEADER: {
                    "description": "Rows written up to this time are in the export: pass it "
                    "as the next export's `since`",
                    "schema": {"type": "string", "format": "date-time"},
                }
            },
            "content": {
                PARQUET: {"schema": {"type": "string", "format": "binary"}},
                CSV: {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_dataset(
    dataset: Annotated[BiDataset, Path(description="Which dataset")],
    access: Annotated[Access, Depends(require(Permission.METRICS_READ))],
    state: State,
    format: Annotated[
        Literal["parquet", "csv"], Query(description="Parquet (default) or CSV")
    ] = "parquet",
    since: Annotated[
        datetime | None,
        Query(
            description="Only rows written after this time (a previous export's "
            f"`{UNTIL_HEADER}`); every row by default. Ignored by the whole datasets."
        ),
    ] = None,
) -> StreamingResponse:
    until = utc_now() - timedelta(seconds=state.settings.bi_export_settle_seconds)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    request = ExportPage(
        organisation_id=access.organisation.id,
        dataset=dataset,
        since=since if dataset in BI_INCREMENTAL else None,
        until=until,
        leadership=access.principal.may(access.organisation.id, Permission.METRICS_LEADERSHIP_READ),
    )
    first = await state.rpc.call(EXPORT_PAGE, request)  # errors become problems before streaming
    stream = parquet_stream if format == "parquet" else csv_stream
    extension = "parquet" if format == "parquet" else "csv"
    return StreamingResponse(
        stream(state, first, request),
        media_type=PARQUET if format == "parquet" else f"{CSV}; charset=utf-8",
        headers={
            UNTIL_HEADER: until.isoformat(),
            "Content-Disposition": f'attachment; filename="{dataset}.{extension}"',
        },
    )
