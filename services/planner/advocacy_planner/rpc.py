"""The planner's request handlers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_planner import service
from advocacy_shared.contracts.planner import GET_PLAYBOOK, GetPlaybook, Playbook
from advocacy_shared.rpc import RpcServer

server = RpcServer("planner")


@server.handles(GET_PLAYBOOK)
async def get_playbook(session: AsyncSession, request: GetPlaybook) -> Playbook:
    return await service.current_playbook(session, request.organisation_id)
