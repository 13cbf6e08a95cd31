"""The versioned playbook: the disciplines an organisation may plan with.

Every edit writes a whole new version, so a program keeps reading the version it was planned with.
An organisation's first version is seeded from the default matrix.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import PlaybookEntry
from advocacy_planner.repository import PlaybookRepository, tenant_repository
from advocacy_shared.contracts.ambassadors import EnablementFormat, Segment
from advocacy_shared.contracts.base import Encoded
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import (
    DEFAULT_PLAYBOOK,
    DisciplinePublished,
    Playbook,
    PlaybookRevised,
    PlaybookRow,
    PlaybookRowChanges,
    PlaybookRowInput,
)
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

DEFAULT_MATRIX: tuple[PlaybookRowInput, ...] = DEFAULT_PLAYBOOK
"""The article's prioritisation matrix: every organisation's playbook starts from it."""


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    """Record the tenant and seed its playbook (version 1) from the default matrix."""
    if not await tenant_repository.record(session, fact):
        return
    PlaybookRepository(session).add_all(_entries(fact.organisation_id, 1, list(DEFAULT_MATRIX)))


def _entries(
    organisation_id: UUID, version: int, rows: list[PlaybookRowInput]
) -> list[PlaybookEntry]:
    return [
        PlaybookEntry(
            organisation_id=organisation_id,
            version=version,
            position=position,
            key=row.key,
            challenge=row.challenge,
            discipline=row.discipline,
            colleagues=row.colleagues,
            content=row.content,
            enablement_format=row.enablement_format,
            segments=list(row.segments),
            formats=list(row.formats),
            angle_prompts=list(row.angle_prompts),
        )
        for position, row in enumerate(rows, start=1)
    ]


async def playbook(
    session: AsyncSession,
    organisation_id: UUID,
    version: int | None = None,
    *,
    committed_view: bool = False,
) -> Playbook:
    """A version of the playbook (the latest by default).

    A version never changes once written, so its rows are kept in `VERSIONS` and each read asks
    the database only which version is the latest. Only a session that sees nothing but committed
    rows (`committed_view`: a read session) adds to them: a transaction could be reading a
    version it wrote itself and may yet roll back.
    """
    wanted, latest, rows = await _version(session, organisation_id, version, committed_view)
    return _playbook(organisation_id, wanted, wanted == latest, rows)


async def encoded_playbook(
    session: AsyncSession, organisation_id: UUID, version: int | None = None
) -> Encoded[Playbook]:
    """`playbook` in a read session, serialized: once per kept version and per answer to
    whether it is the latest, rather than for every read (the reply's serialization was about a
    sixteenth of the planner's CPU per read at 64 connections). The bytes are kept with the
    version's rows and leave with them."""
    wanted, latest, rows = await _version(session, organisation_id, version, committed_view=True)
    is_latest = wanted == latest
    encoded = VERSIONS.encoded(organisation_id, wanted, is_latest)
    if encoded is None:
        encoded = Encoded.of(_playbook(organisation_id, wanted, is_latest, rows))
        VERSIONS.keep_encoded(organisation_id, wanted, is_latest, encoded)
    return encoded


async def _version(
    session: AsyncSession, organisation_id: UUID, version: int | None, committed_view: bool
) -> tuple[int, int, tuple[PlaybookRow, ...]]:
    """The version asked for (the latest when None), the latest, and the rows of the first."""
    playbooks = PlaybookRepository(session)
    latest = await _latest_version(playbooks, organisation_id)
    wanted = latest if version is None else version
    if wanted > latest:
        raise NotFound(f"there is no playbook version {wanted} (the latest is {latest})")
    rows = VERSIONS.get(organisation_id, wanted)
    if rows is None:
        rows = tuple(_row(entry) for entry in await playbooks.entries(organisation_id, wanted))
        if committed_view and rows:
            VERSIONS.put(organisation_id, wanted, rows)
    return wanted, latest, rows


def _playbook(
    organisation_id: UUID, version: int, latest: bool, rows: tuple[PlaybookRow, ...]
) -> Playbook:
    return Playbook(
        organisation_id=organisation_id, version=version, latest=latest, rows=list(rows)
    )


@dataclass
class _Kept:
    rows: tuple[PlaybookRow, ...]
    encoded: dict[bool, Encoded[Playbook]] = field(default_factory=dict)
    """The version serialized as the reply to a read, by whether it was the latest then."""


class PlaybookVersions:
    """The rows of playbook versions read lately, at most `capacity` versions (least recently
    read out first). Safe to keep: a version's rows are never changed or deleted alone."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._versions: OrderedDict[tuple[UUID, int], _Kept] = OrderedDict()

    def get(self, organisation_id: UUID, version: int) -> tuple[PlaybookRow, ...] | None:
        key = (organisation_id, version)
        kept = self._versions.get(key)
        if kept is None:
            return None
        self._versions.move_to_end(key)
        return kept.rows

    def put(self, organisation_id: UUID, version: int, rows: tuple[PlaybookRow, ...]) -> None:
        self._versions[(organisation_id, version)] = _Kept(rows)
        self._versions.move_to_end((organisation_id, version))
        while len(self._versions) > self.capacity:
            self._versions.popitem(last=False)

    def encoded(
        self, organisation_id: UUID, version: int, latest: bool
    ) -> Encoded[Playbook] | None:
        kept = self._versions.get((organisation_id, version))
        return kept.encoded.get(latest) if kept is not None else None

    def keep_encoded(
        self, organisation_id: UUID, version: int, latest: bool, encoded: Encoded[Playbook]
    ) -> None:
        """Keep a kept version's reply; a version not kept (any more) keeps none."""
        kept = self._versions.get((organisation_id, version))
        if kept is not None:
            kept.encoded[latest] = encoded


VERSIONS = PlaybookVersions(capacity=4096)


async def _latest_version(playbooks: PlaybookRepository, organisation_id: UUID) -> int:
    version = await playbooks.latest_version(organisation_id)
    if version is None:
        raise NotReady(
            "the planner has not provisioned this organisation yet",
            {"organisation_id": str(organisation_id)},
        )
    return version


def _row(entry: PlaybookEntry) -> PlaybookRow:
    return PlaybookRow(
        id=entry.id,
        key=entry.key,
        position=entry.position,
        challenge=entry.challenge,
        discipline=entry.discipline,
        colleagues=entry.colleagues,
        content=entry.content,
        enablement_format=entry.enablement_format,
        segments=[cast(Segment, s) for s in entry.segments],
        formats=[cast(EnablementFormat, f) for f in entry.formats],
        angle_prompts=list(entry.angle_prompts),
    )


def _as_input(row: PlaybookRow) -> PlaybookRowInput:
    return PlaybookRowInput.model_validate(row.model_dump(exclude={"id", "position"}))


async def add_playbook_row(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, row: PlaybookRowInput
) -> Playbook:
    current = await playbook(session, organisation_id)
    if any(existing.key == row.key for existing in current.rows):
        raise Conflict(f"the playbook has a discipline {row.key} already", {"key": row.key})
    rows = [_as_input(existing) for existing in current.rows] + [row]
    return await _revise(session, outbox, organisation_id, current.version, rows, "added", row.key)


async def edit_playbook_row(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    key: str,
    changes: PlaybookRowChanges,
) -> Playbook:
    current = await playbook(session, organisation_id)
    _known_key(current, key)
    update = changes.model_dump(exclude_none=True)
    try:
        rows = [
            PlaybookRowInput.model_validate({**_as_input(r).model_dump(), **update})
            if r.key == key
            else _as_input(r)
            for r in current.rows
        ]
    except ValidationError as exc:
        raise Invalid(
            "the edited row is not valid",
            {"errors": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]},
        ) from exc
    return await _revise(session, outbox, organisation_id, current.version, rows, "edited", key)


async def retire_playbook_row(
    session: AsyncSession, outbox: Outbox, organisation_id: UUID, key: str
) -> Playbook:
    current = await playbook(session, organisation_id)
    _known_key(current, key)
    if len(current.rows) == 1:
        raise Conflict("the last discipline of a playbook cannot be retired")
    rows = [_as_input(r) for r in current.rows if r.key != key]
    return await _revise(session, outbox, organisation_id, current.version, rows, "retired", key)


def _known_key(current: Playbook, key: str) -> None:
    if not any(row.key == key for row in current.rows):
        raise NotFound(
            f"the playbook has no discipline {key}",
            {"known": [row.key for row in current.rows]},
        )


async def _revise(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    version: int,
    rows: list[PlaybookRowInput],
    change: str,
    key: str,
) -> Playbook:
    """Write the whole matrix as the next version; older versions stay for their programs."""
    PlaybookRepository(session).add_all(_entries(organisation_id, version + 1, rows))
    await session.flush()
    await outbox.add(
        session,
        PlaybookRevised.model_validate(
            {
                "version": version + 1,
                "change": change,
                "discipline_key": key,
                "revised_at": utc_now(),
            }
        ),
        organisation_id=organisation_id,
    )
    await _publish_discipline(session, outbox, organisation_id, version, rows, key)
    return await playbook(session, organisation_id, version + 1)


async def _publish_discipline(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    version: int,
    rows: list[PlaybookRowInput],
    key: str,
) -> None:
    """Tell the content service what the changed discipline now is (or that it was retired), so
    that suggestions rank from a copy and never ask the planner while ranking."""
    current = next((row for row in rows if row.key == key), None)
    if current is None:
        previous = (await playbook(session, organisation_id, version)).rows
        source: PlaybookRowInput | PlaybookRow = next(row for row in previous if row.key == key)
    else:
        source = current
    await outbox.add(
        session,
        DisciplinePublished(
            playbook_version=version + 1,
            key=key,
            challenge=source.challenge,
            segments=list(source.segments),
            angle_prompts=list(source.angle_prompts),
            retired=current is None,
            published_at=utc_now(),
        ),
        organisation_id=organisation_id,
        subject=key,
    )
