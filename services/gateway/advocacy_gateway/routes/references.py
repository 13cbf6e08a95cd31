"""References to another service's records, checked before a command carries them there.

Each service owns its data and no service reads another's tables, so the gateway, which already
speaks to every owner, asks the owner whether an id is one of the organisation's before it sends a
command naming it: an ambassador's `program_id` (the planner's), a cohort's ambassador ids (the
ambassadors service's). An unknown id, or another organisation's, is a 422 naming the field; the
owners filter by organisation, so the two look the same.
"""

from __future__ import annotations

from uuid import UUID

from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.ambassadors import FIND_UNKNOWN, FindUnknownAmbassadors
from advocacy_shared.contracts.errors import Invalid, NotFound
from advocacy_shared.contracts.planner import GET_PROGRAM, GetProgram

MAX_NAMED = 5
"""How many unknown ids a refusal names; the rest are counted."""


async def check_program(
    state: GatewayState, organisation_id: UUID, program_id: UUID | None, field: str
) -> None:
    if program_id is None:
        return
    try:
        await state.rpc.call(
            GET_PROGRAM, GetProgram(organisation_id=organisation_id, program_id=program_id)
        )
    except NotFound as exc:
        raise Invalid(
            f"{field}: no program {program_id} in this organisation", {"field": field}
        ) from exc


async def check_ambassadors(
    state: GatewayState, organisation_id: UUID, ambassador_ids: list[UUID], field: str
) -> None:
    if not ambassador_ids:
        return
    found = await state.rpc.call(
        FIND_UNKNOWN,
        FindUnknownAmbassadors(organisation_id=organisation_id, ambassador_ids=ambassador_ids),
    )
    unknown = found.ambassador_ids
    if unknown:
        named = ", ".join(str(i) for i in unknown[:MAX_NAMED])
        more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
        raise Invalid(
            f"{field}: no ambassador {named}{more} in this organisation",
            {"field": field, "unknown": [str(i) for i in unknown[:MAX_NAMED]]},
        )
