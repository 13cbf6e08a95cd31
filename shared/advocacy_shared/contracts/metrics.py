"""Facts measured by the metrics service that other services act on.

`CohortActualsMeasured` is the planner's source of actuals: the graduation check of a phase
compares its targets with the latest of these for that program and phase.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, model_validator

from advocacy_shared.contracts.base import EventData, Operation, RpcReply, RpcRequest, event
from advocacy_shared.contracts.planner import PhaseKind


@event("metrics", "cohort_actuals", "measured", 1)
class CohortActualsMeasured(EventData):
    """What a program's cohort in one phase achieved over one period (the leadership track apart).

    Rates are fractions (0.4 is 40 %). `leadership_participation` is the share of the cohort's
    leaders who posted in the period; None when the cohort has no leaders.
    """

    program_id: UUID
    phase: PhaseKind
    period_start: date
    period_end: date
    cohort_size: int = Field(ge=0)
    active_rate: float = Field(ge=0, le=1, description="Share of the cohort who posted")
    posts_per_ambassador_per_week: float = Field(ge=0)
    reach: int = Field(ge=0, description="Members reached in the period")
    engagement_rate: float = Field(ge=0, le=1, description="Engagements per impression")
    leadership_participation: float | None = Field(default=None, ge=0, le=1)
    measured_at: datetime

    @model_validator(mode="after")
    def _period_in_order(self) -> CohortActualsMeasured:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


@event("metrics", "post_engagement", "measured", 1)
class PostEngagementMeasured(EventData):
    """The latest observed analytics of one post, published when they change materially.

    The content service learns from these which items engaged for which ambassadors. Counts are
    as LinkedIn last reported them (a count may go down); `engagement_rate` is engagements
    (reactions, comments, reshares) per impression, 0 when there were no impressions.
    """

    post_id: UUID
    ambassador_id: UUID
    content_item_id: UUID | None = None
    impressions: int = Field(ge=0)
    members_reached: int | None = Field(default=None, ge=0)
    reactions: int = Field(ge=0)
    comments: int = Field(ge=0)
    reshares: int = Field(ge=0)
    engagement_rate: float = Field(ge=0)
    observed_at: datetime


# --- Snapshots: what other tools publish, and what the import accepts ----------------------------

MAX_COUNT = 10**12
"""No post has a trillion impressions: a larger count is a malformed snapshot."""

Count = Annotated[int, Ge(0), Le(MAX_COUNT)]
SnapshotSource = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        description="Who observed it: `linkedin_api`, `import`, or a tool's own name (`tool:x`)",
    ),
]


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("observed_at needs a time zone")


class _Counts(BaseModel):
    """Counts as the source reported them at `observed_at` (cumulative, not deltas)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observed_at: datetime
    source: SnapshotSource
    impressions: Count
    members_reached: Count | None = Field(default=None, description="Unique members reached")
    reactions: Count
    comments: Count
    reshares: Count
    clicks: Count | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _aware(self.observed_at)
        if self.members_reached is not None and self.members_reached > self.impressions:
            raise ValueError("members_reached is larger than impressions")
        return self


@event("snapshots", "post_metrics", "observed", 1)
class PostMetricsObserved(EventData, _Counts):
    """A snapshot of one ambassador post's analytics, published by any tool on
    `<namespace>.snapshots.post_metrics.observed.v1` (the CloudEvents `orgid` names the
    organisation, which must be the post's). Idempotent on (post, observed_at, source): a second
    copy changes nothing. A count lower than an earlier one is kept as observed."""

    post_id: UUID = Field(description="The post as `PostPublished` announced it")


@event("snapshots", "company_post_metrics", "observed", 1)
class CompanyPostMetricsObserved(EventData, _Counts):
    """A snapshot of one company-page post (the baseline employee posts are compared with)."""

    post_urn: str = Field(min_length=1, max_length=200, description="urn:li:share:… of the page")
    program_id: UUID | None = None
    content_item_id: UUID | None = None
    published_at: datetime | None = None


@event("metrics", "ambassador_momentum", "changed", 1)
class AmbassadorMomentumChanged(EventData):
    """An ambassador who had posted went quiet (no post for `quiet_after_days`), or posted again.

    The ambassadors service applies it to the journey's `active`/`quiet` state."""

    ambassador_id: UUID
    state: Literal["active", "quiet"]
    last_posted_at: datetime | None
    days_since_last_post: int | None = Field(default=None, ge=0)
    changed_at: datetime


@event("metrics", "program_momentum", "dropped", 1)
class ProgramMomentumDropped(EventData):
    """Fewer ambassadors posted in a program's last full week than `drop_threshold` of the mean of
    the four weeks before (the leadership track apart); once per program and week."""

    program_id: UUID
    week_start: date
    active_ambassadors: int = Field(ge=0)
    baseline: float = Field(ge=0, description="Mean active ambassadors of the 4 weeks before")
    drop: float = Field(ge=0, le=1, description="1 - active / baseline")
    detected_at: datetime


# --- Requests ------------------------------------------------------------------------------------

MAX_IMPORT_ROWS = 1000
MAX_PERIOD_DAYS = 366

Dimension = Literal["ambassador", "program", "discipline", "segment", "track"]
MetricsTrack = Literal["ambassadors", "leadership"]
Currency = Annotated[
    str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", description="ISO 4217")
]
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A day of a period: bounded, so that arithmetic on it never leaves the calendar."""


class ImportRow(BaseModel):
    """One row of a bulk import: an ambassador post (`post_id`) or a company-page post
    (`company_post_urn`), never both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int = Field(ge=1, le=10_000_000, description="The row's number in the file")
    post_id: UUID | None = None
    company_post_urn: str | None = Field(default=None, min_length=1, max_length=200)
    program_id: UUID | None = None
    observed_at: datetime
    source: SnapshotSource = "import"
    impressions: Count
    members_reached: Count | None = None
    reactions: Count = 0
    comments: Count = 0
    reshares: Count = 0
    clicks: Count | None = None

    @model_validator(mode="after")
    def _one_post(self) -> Self:
        _aware(self.observed_at)
        if (self.post_id is None) == (self.company_post_urn is None):
            raise ValueError("give either post_id or company_post_urn")
        if self.members_reached is not None and self.members_reached > self.impressions:
            raise ValueError("members_reached is larger than impressions")
        return self


class ImportSnapshots(RpcRequest):
    organisation_id: UUID
    rows: list[ImportRow] = Field(max_length=MAX_IMPORT_ROWS)


class RowFailure(RpcReply):
    row: int
    reason: str = Field(max_length=500)


class ImportResult(RpcReply):
    stored: int = Field(description="New snapshots stored")
    duplicates: int = Field(description="Rows already stored (same post, observed_at, source)")
    failures: list[RowFailure]


class Period(RpcRequest):
    """Whole UTC days, `since` to `until` inclusive, at most `MAX_PERIOD_DAYS` (the service
    refuses a longer or reversed one as invalid)."""

    organisation_id: UUID
    program_id: UUID | None = None
    since: Day | None = Field(default=None, description="First day; 28 days before `until`")
    until: Day | None = Field(default=None, description="Last day; today by default")


class GetSummary(Period):
    track: MetricsTrack = "ambassadors"
    currency: Currency | None = Field(default=None, description="The organisation's default")


class EmvRates(RpcReply):
    """Earned media value = impressions / 1000 * cpm + reactions * per_reaction + comments *
    per_comment + reshares * per_reshare + clicks * per_click, in `currency`."""

    currency: str
    cpm: float = Field(ge=0, le=1_000_000)
    per_reaction: float = Field(ge=0, le=1_000_000)
    per_comment: float = Field(ge=0, le=1_000_000)
    per_reshare: float = Field(ge=0, le=1_000_000)
    per_click: float = Field(ge=0, le=1_000_000)
    default: bool = Field(default=False, description="The organisation's default currency")


class EmvRatesFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpm: float = Field(ge=0, le=1_000_000, description="Value of 1000 impressions")
    per_reaction: float = Field(ge=0, le=1_000_000)
    per_comment: float = Field(ge=0, le=1_000_000)
    per_reshare: float = Field(ge=0, le=1_000_000)
    per_click: float = Field(default=0, ge=0, le=1_000_000)
    default: bool = False


class SetEmvRates(RpcRequest):
    organisation_id: UUID
    currency: Currency
    rates: EmvRatesFields


class ListEmvRates(RpcRequest):
    organisation_id: UUID


class EmvRatesList(RpcReply):
    items: list[EmvRates]


class Totals(RpcReply):
    posts: int
    impressions: int
    reach: int = Field(description="Members reached (impressions where a source gave none)")
    reactions: int
    comments: int
    reshares: int
    clicks: int
    engagement: int = Field(description="reactions + comments + reshares")
    engagement_rate: float = Field(description="engagement / impressions; 0 without impressions")


class Emv(RpcReply):
    currency: str
    amount: float
    rates: EmvRates


class MetricsSummary(RpcReply):
    track: MetricsTrack
    program_id: UUID | None
    since: date
    until: date
    totals: Totals
    emv: Emv


class GetPostMetrics(RpcRequest):
    organisation_id: UUID
    post_id: UUID


class Comparison(RpcReply):
    """Employee posts against the company page's posts, per post (means of latest values)."""

    employee_posts: int
    company_posts: int
    employee_reach_per_post: float
    company_reach_per_post: float
    employee_engagement_per_post: float
    company_engagement_per_post: float
    reach_ratio: float | None = Field(description="employee / company; None without a baseline")
    engagement_ratio: float | None


class PostMetrics(RpcReply):
    post_id: UUID
    ambassador_id: UUID
    leadership: bool = Field(description="A leadership-track post (shown only to those allowed)")
    program_id: UUID | None
    published_at: datetime
    withdrawn_at: datetime | None
    observed_at: datetime | None
    totals: Totals
    versus_company: Comparison


class Compare(Period):
    pass


class EmployeeVsCompany(RpcReply):
    program_id: UUID | None
    since: date
    until: date
    comparison: Comparison


class GetParticipation(RpcRequest):
    organisation_id: UUID
    program_id: UUID | None = None
    as_of: Day | None = None
    track: MetricsTrack = "ambassadors"


class Participation(RpcReply):
    """Share of enrolled ambassadors who posted in the 28 days up to `as_of` (inclusive)."""

    program_id: UUID | None
    as_of: date
    window_days: int
    enrolled: int
    posted: int
    rate: float


class GetMomentum(RpcRequest):
    organisation_id: UUID
    program_id: UUID | None = None
    weeks: int = Field(default=8, ge=2, le=52)
    as_of: Day | None = None


class WeekActivity(RpcReply):
    week_start: date
    active_ambassadors: int
    posts: int


class AmbassadorMomentum(RpcReply):
    ambassador_id: UUID
    last_posted_at: datetime | None
    days_since_last_post: int | None
    state: Literal["active", "quiet", "never_posted"]


class Momentum(RpcReply):
    program_id: UUID | None
    as_of: date
    weeks: list[WeekActivity] = Field(description="Oldest first; the current week last")
    trend: float | None = Field(
        description="Active ambassadors of the last full week / mean of the 4 before, minus 1"
    )
    ambassadors: list[AmbassadorMomentum]


class ListRollups(Period):
    dimension: Dimension
    track: MetricsTrack = "ambassadors"


class RollupRow(RpcReply):
    day: date
    key: str
    posts: int
    impressions: int
    reach: int
    reactions: int
    comments: int
    reshares: int
    clicks: int


class Rollups(RpcReply):
    dimension: Dimension
    since: date
    until: date
    items: list[RollupRow]


IMPORT_SNAPSHOTS: Operation[ImportSnapshots, ImportResult] = Operation(
    "metrics", "snapshots.import", ImportSnapshots, ImportResult
)
GET_SUMMARY: Operation[GetSummary, MetricsSummary] = Operation(
    "metrics", "summary.get", GetSummary, MetricsSummary
)
GET_POST_METRICS: Operation[GetPostMetrics, PostMetrics] = Operation(
    "metrics", "post.get", GetPostMetrics, PostMetrics
)
COMPARE_COMPANY: Operation[Compare, EmployeeVsCompany] = Operation(
    "metrics", "company.compare", Compare, EmployeeVsCompany
)
GET_PARTICIPATION: Operation[GetParticipation, Participation] = Operation(
    "metrics", "participation.get", GetParticipation, Participation
)
GET_MOMENTUM: Operation[GetMomentum, Momentum] = Operation(
    "metrics", "momentum.get", GetMomentum, Momentum
)
LIST_ROLLUPS: Operation[ListRollups, Rollups] = Operation(
    "metrics", "rollups.list", ListRollups, Rollups
)
LIST_EMV_RATES: Operation[ListEmvRates, EmvRatesList] = Operation(
    "metrics", "emv_rates.list", ListEmvRates, EmvRatesList
)
SET_EMV_RATES: Operation[SetEmvRates, EmvRates] = Operation(
    "metrics", "emv_rates.set", SetEmvRates, EmvRates
)


# --- The company page on LinkedIn (the baseline's source) ----------------------------------------

CompanyPageState = Literal["active", "token_rejected"]


class CompanyPageFields(BaseModel):
    """An organisation's LinkedIn company page and a token that may read its statistics (a page
    administrator's, with `rw_organization_admin`). The token is sealed at rest and never shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organization_urn: str = Field(
        pattern=r"^urn:li:organization:\d{1,20}$",
        max_length=60,
        description="The page, e.g. urn:li:organization:2414183",
    )
    access_token: str = Field(
        min_length=1, max_length=4000, repr=False, description="Never returned or logged"
    )
    program_id: UUID | None = Field(
        default=None, description="The program whose baseline the page's posts are"
    )


class SetCompanyPage(RpcRequest):
    organisation_id: UUID
    page: CompanyPageFields


class GetCompanyPage(RpcRequest):
    organisation_id: UUID


class CompanyPage(RpcReply):
    """The configured page and how its last read went: never the token."""

    organization_urn: str
    program_id: UUID | None = None
    state: CompanyPageState = Field(
        description="token_rejected: LinkedIn refused the token; set the page again"
    )
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    last_error: str | None = None


SET_COMPANY_PAGE: Operation[SetCompanyPage, CompanyPage] = Operation(
    "metrics", "company_page.set", SetCompanyPage, CompanyPage
)
GET_COMPANY_PAGE: Operation[GetCompanyPage, CompanyPage] = Operation(
    "metrics", "company_page.get", GetCompanyPage, CompanyPage
)


# --- BI export -----------------------------------------------------------------------------------

BiDataset = Literal["post_days", "posts", "rollups", "ambassadors", "participation", "momentum"]
BiType = Literal["string", "date", "timestamp", "int64", "float64"]

_COUNT_COLUMNS: tuple[tuple[str, BiType], ...] = (
    ("impressions", "int64"),
    ("members_reached", "int64"),
    ("reactions", "int64"),
    ("comments", "int64"),
    ("reshares", "int64"),
    ("clicks", "int64"),
)
BI_COLUMNS: dict[str, tuple[tuple[str, BiType], ...]] = {
    # The fact table: each post's last observation of each UTC day.
    "post_days": (
        ("post_id", "string"),
        ("day", "date"),
        ("ambassador_key", "string"),
        ("program_id", "string"),
        ("content_item_id", "string"),
        ("discipline", "string"),
        ("track", "string"),
        ("published_at", "timestamp"),
        ("observed_at", "timestamp"),
        *_COUNT_COLUMNS,
        ("changed_at", "timestamp"),
    ),
    # The content dimension with each post's latest values.
    "posts": (
        ("post_id", "string"),
        ("ambassador_key", "string"),
        ("program_id", "string"),
        ("content_item_id", "string"),
        ("discipline", "string"),
        ("track", "string"),
        ("source", "string"),
        ("published_at", "timestamp"),
        ("withdrawn_at", "timestamp"),
        ("observed_at", "timestamp"),
        *_COUNT_COLUMNS,
        ("changed_at", "timestamp"),
    ),
    "rollups": (
        ("day", "date"),
        ("track", "string"),
        ("dimension", "string"),
        ("key", "string"),
        ("posts", "int64"),
        ("impressions", "int64"),
        ("reach", "int64"),
        ("reactions", "int64"),
        ("comments", "int64"),
        ("reshares", "int64"),
        ("clicks", "int64"),
        ("changed_at", "timestamp"),
    ),
    # The ambassador dimension (pseudonymised), with momentum.
    "ambassadors": (
        ("ambassador_key", "string"),
        ("program_id", "string"),
        ("track", "string"),
        ("segments", "string"),
        ("enrolled_at", "timestamp"),
        ("left_at", "timestamp"),
        ("last_posted_at", "timestamp"),
        ("days_since_last_post", "int64"),
        ("state", "string"),
    ),
    "participation": (
        ("program_id", "string"),
        ("track", "string"),
        ("as_of", "date"),
        ("window_days", "int64"),
        ("enrolled", "int64"),
        ("posted", "int64"),
        ("rate", "float64"),
    ),
    "momentum": (
        ("program_id", "string"),
        ("week_start", "date"),
        ("active_ambassadors", "int64"),
        ("posts", "int64"),
        ("trend", "float64"),
    ),
}
"""Each dataset's columns and types, in order: what the CSV header and the Parquet schema say."""

BI_INCREMENTAL: frozenset[str] = frozenset({"post_days", "posts", "rollups"})
"""Datasets whose rows carry `changed_at` and follow `since`; the others are whole each time."""

MAX_BI_PAGE = 1000
BiCell = str | int | float | None
BiKey = Annotated[str, Field(max_length=200)]


class ExportPage(RpcRequest):
    """One page of a BI dataset: rows changed in (`since`, `until`], after the key `after`
    (the previous page's last), leadership rows only when `leadership` is allowed."""

    organisation_id: UUID
    dataset: BiDataset
    since: datetime | None = None
    until: datetime | None = Field(default=None, description="The first page's answer, resent")
    after: list[BiKey] | None = Field(default=None, max_length=4)
    limit: int = Field(default=MAX_BI_PAGE, ge=1, le=MAX_BI_PAGE)
    leadership: bool = False


class ExportRows(RpcReply):
    """Rows as lists in `BI_COLUMNS` order (dates and times as ISO 8601 strings); `after` is
    None on the last page; `until` is the export's upper bound, the next export's `since`."""

    rows: list[list[BiCell]] = Field(max_length=MAX_BI_PAGE)
    after: list[BiKey] | None = Field(default=None, max_length=4)
    until: datetime


EXPORT_PAGE: Operation[ExportPage, ExportRows] = Operation(
    "metrics", "bi.export", ExportPage, ExportRows
)
