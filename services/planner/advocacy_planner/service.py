"""The planner's domain logic. No commits and no broker here: the edges own both."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner.models import PlaybookEntry
from advocacy_planner.repository import PlaybookRepository, tenant_repository
from advocacy_shared.contracts.errors import NotReady
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import Playbook, PlaybookRow


@dataclass(frozen=True)
class MatrixRow:
    challenge: str
    discipline: str
    colleagues: str
    content: str
    enablement_format: str


DEFAULT_MATRIX: tuple[MatrixRow, ...] = (
    MatrixRow(
        challenge="Sales & lead generation",
        discipline="Social selling",
        colleagues="Sales & marketing",
        content="Customer challenges, industry themes, cases",
        enablement_format="Onboarding, guide and an ongoing roll-out",
    ),
    MatrixRow(
        challenge="Awareness & differentiation",
        discipline="Thought leadership & CxO visibility",
        colleagues="Specialists & leadership",
        content="Professional hobby-horses, industry agendas, visions",
        enablement_format="Hand-held effort, 1:1 and guide",
    ),
    MatrixRow(
        challenge="Qualified applicants",
        discipline="Employee advocacy as employer branding",
        colleagues="Everyone / profile representatives",
        content="The workplace, development, collegiality",
        enablement_format="Broad training, guide + hand-held effort",
    ),
)
"""The article's prioritisation matrix: every organisation's playbook starts from it."""


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    """Record the tenant and seed its playbook (version 1) from the default matrix."""
    if not await tenant_repository.record(session, fact):
        return
    playbooks = PlaybookRepository(session)
    playbooks.add_all(
        [
            PlaybookEntry(
                organisation_id=fact.organisation_id,
                version=1,
                position=position,
                challenge=row.challenge,
                discipline=row.discipline,
                colleagues=row.colleagues,
                content=row.content,
                enablement_format=row.enablement_format,
            )
            for position, row in enumerate(DEFAULT_MATRIX, start=1)
        ]
    )


async def current_playbook(session: AsyncSession, organisation_id: UUID) -> Playbook:
    playbooks = PlaybookRepository(session)
    version = await playbooks.latest_version(organisation_id)
    if version is None:
        raise NotReady(
            "the planner has not provisioned this organisation yet",
            {"organisation_id": str(organisation_id)},
        )
    entries = await playbooks.entries(organisation_id, version)
    return Playbook(
        organisation_id=organisation_id,
        version=version,
        rows=[
            PlaybookRow(
                id=entry.id,
                position=entry.position,
                challenge=entry.challenge,
                discipline=entry.discipline,
                colleagues=entry.colleagues,
                content=entry.content,
                enablement_format=entry.enablement_format,
            )
            for entry in entries
        ],
    )
