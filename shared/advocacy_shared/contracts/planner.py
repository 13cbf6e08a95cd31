"""Requests answered by the planner service."""

from __future__ import annotations

from uuid import UUID

from advocacy_shared.contracts.base import Operation, RpcReply, RpcRequest


class PlaybookRow(RpcReply):
    id: UUID
    position: int
    challenge: str
    discipline: str
    colleagues: str
    content: str
    enablement_format: str


class GetPlaybook(RpcRequest):
    organisation_id: UUID


class Playbook(RpcReply):
    organisation_id: UUID
    version: int
    rows: list[PlaybookRow]


GET_PLAYBOOK: Operation[GetPlaybook, Playbook] = Operation(
    "planner", "playbook.get", GetPlaybook, Playbook
)
