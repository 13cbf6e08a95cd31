"""The planner's resources, forwarded over request-reply."""

from __future__ import annotations

from fastapi import APIRouter

from advocacy_gateway.auth import PlaybookReader
from advocacy_gateway.routes.common import COMMON_PROBLEMS, SERVICE_PROBLEMS, State
from advocacy_shared.contracts.planner import GET_PLAYBOOK, GetPlaybook, Playbook

router = APIRouter(
    prefix="/api/v1/orgs/{org_id}",
    tags=["planner"],
    responses={**COMMON_PROBLEMS, **SERVICE_PROBLEMS},
)


@router.get(
    "/playbook",
    summary="The organisation's current playbook (challenge → enablement format matrix)",
)
async def get_playbook(access: PlaybookReader, state: State) -> Playbook:
    return await state.rpc.call(GET_PLAYBOOK, GetPlaybook(organisation_id=access.organisation.id))
