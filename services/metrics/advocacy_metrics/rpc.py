"""The metrics service's request handlers: thin, one transaction or read session each."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_metrics.polling import polling_wiring
from advocacy_metrics.service import bi, ingest, polling, reports
from advocacy_shared.contracts.errors import Conflict
from advocacy_shared.contracts.metrics import (
    COMPARE_COMPANY,
    EXPORT_PAGE,
    GET_COMPANY_PAGE,
    GET_MOMENTUM,
    GET_PARTICIPATION,
    GET_POST_METRICS,
    GET_SUMMARY,
    IMPORT_SNAPSHOTS,
    LIST_EMV_RATES,
    LIST_ROLLUPS,
    SET_COMPANY_PAGE,
    SET_EMV_RATES,
    CompanyPage,
    Compare,
    EmployeeVsCompany,
    EmvRates,
    EmvRatesList,
    ExportPage,
    ExportRows,
    GetCompanyPage,
    GetMomentum,
    GetParticipation,
    GetPostMetrics,
    GetSummary,
    ImportResult,
    ImportSnapshots,
    ListEmvRates,
    ListRollups,
    MetricsSummary,
    Momentum,
    Participation,
    PostMetrics,
    Rollups,
    SetCompanyPage,
    SetEmvRates,
)
from advocacy_shared.rpc import RpcServer

server = RpcServer("metrics")


@server.handles(IMPORT_SNAPSHOTS)
async def import_snapshots(session: AsyncSession, request: ImportSnapshots) -> ImportResult:
    return await ingest.import_snapshots(session, request)


@server.reads(GET_SUMMARY)
async def get_summary(session: AsyncSession, request: GetSummary) -> MetricsSummary:
    return await reports.summary(session, request)


@server.reads(GET_POST_METRICS)
async def get_post_metrics(session: AsyncSession, request: GetPostMetrics) -> PostMetrics:
    return await reports.post_metrics(session, request)


@server.reads(COMPARE_COMPANY)
async def compare_company(session: AsyncSession, request: Compare) -> EmployeeVsCompany:
    return await reports.compare(session, request)


@server.reads(GET_PARTICIPATION)
async def get_participation(session: AsyncSession, request: GetParticipation) -> Participation:
    return await reports.participation(session, request)


@server.reads(GET_MOMENTUM)
async def get_momentum(session: AsyncSession, request: GetMomentum) -> Momentum:
    return await reports.momentum(session, request)


@server.reads(LIST_ROLLUPS)
async def list_rollups(session: AsyncSession, request: ListRollups) -> Rollups:
    return await reports.rollups(session, request)


@server.reads(LIST_EMV_RATES)
async def list_emv_rates(session: AsyncSession, request: ListEmvRates) -> EmvRatesList:
    return await reports.list_rates(session, request)


@server.handles(SET_EMV_RATES)
async def set_emv_rates(session: AsyncSession, request: SetEmvRates) -> EmvRates:
    return await reports.set_rates(session, request)


@server.handles(SET_COMPANY_PAGE)
async def set_company_page(session: AsyncSession, request: SetCompanyPage) -> CompanyPage:
    poller = polling_wiring()
    if poller.secrets is None:
        raise Conflict(
            "the metrics service has no encryption key (ADVOCACY_METRICS_ENCRYPTION_KEYS or "
            "ADVOCACY_ENCRYPTION_KEYS): a company page's token cannot be stored"
        )
    page = await polling.set_company_page(session, poller.secrets, request, poller.clock())
    poller.wake()
    return page


@server.reads(GET_COMPANY_PAGE)
async def get_company_page(session: AsyncSession, request: GetCompanyPage) -> CompanyPage:
    return await polling.get_company_page(session, request)


@server.handles(EXPORT_PAGE)
async def export_page(session: AsyncSession, request: ExportPage) -> ExportRows:
    """A transaction, not a read: an organisation's first export creates its pseudonym key."""
    return await bi.export_page(session, request)
