"""Forwarding routes declared as data document themselves as the hand-written routes they
replace did, and docs/routes.md is the route table the routers give today."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi import APIRouter, FastAPI, Response

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import PlannerManager, PlannerReader, document_permissions
from advocacy_gateway.routes import ROUTERS
from advocacy_gateway.routes.common import (
    CONFLICT,
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    after_id,
    cursor_of,
)
from advocacy_gateway.routes.forward import BY_ID, Forward, actor, get, mount, post
from advocacy_gateway.routes.table import markdown, rows
from advocacy_shared.contracts.planner import (
    ASSESS_READINESS,
    LIST_PROGRAMS,
    AssessReadiness,
    ListPrograms,
    Program,
    ReadinessAssessment,
    ReadinessFields,
)

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/api/v1/orgs/{org_id}"


def _hand_written() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["t"], responses=CONFLICT)

    @router.get("/programs", summary="Programs")
    async def list_programs(
        access: PlannerReader, state: State, limit: Limit = 50, cursor: CursorParam = None
    ) -> Page[Program]:
        page = await state.rpc.call(
            LIST_PROGRAMS,
            ListPrograms(
                organisation_id=access.organisation.id, limit=limit, after=after_id(cursor)
            ),
        )
        return Page(items=page.items, next_cursor=cursor_of(page.next_after))

    @router.post("/programs/{program_id}/readiness", status_code=201, summary="Assess")
    async def assess_readiness(
        program_id: UUID,
        body: ReadinessFields,
        access: PlannerManager,
        state: State,
        response: Response,
        _idempotency_key: IdempotencyKey = None,
    ) -> ReadinessAssessment:
        assessment = await state.rpc.call(
            ASSESS_READINESS,
            AssessReadiness(
                organisation_id=access.organisation.id,
                program_id=program_id,
                assessment=body,
                assessed_by=actor(access),
            ),
        )
        response.headers["Location"] = f"/x/{assessment.number}"
        return assessment

    return router


def _as_data() -> APIRouter:
    routes: list[Forward] = [
        get(
            "/programs",
            LIST_PROGRAMS,
            Permission.PLANNER_READ,
            "list_programs",
            "Programs",
            paging=BY_ID,
        ),
        post(
            "/programs/{program_id}/readiness",
            ASSESS_READINESS,
            Permission.PLANNER_MANAGE,
            "assess_readiness",
            "Assess",
            body=ReadinessFields,
            body_as="assessment",
            status_code=201,
            location="/x/{reply.number}",
            from_caller={"assessed_by": actor},
        ),
    ]
    return mount(APIRouter(prefix=PREFIX, tags=["t"], responses=CONFLICT), routes)


def _document(router: APIRouter) -> dict[str, Any]:
    document_permissions([router])
    app = FastAPI()
    app.include_router(router)
    return app.openapi()


def test_a_route_declared_as_data_documents_itself_as_the_hand_written_one() -> None:
    declared, written = _document(_as_data()), _document(_hand_written())
    assert declared == written
    operation = declared["paths"][f"{PREFIX}/programs/{{program_id}}/readiness"]["post"]
    assert operation["x-permission"] == "planner.manage"
    assert [(p["in"], p["name"]) for p in operation["parameters"]] == [
        ("path", "program_id"),
        ("path", "org_id"),
        ("header", "Idempotency-Key"),
    ]


def test_every_forwarding_route_names_a_distinct_operation_id() -> None:
    table = list(rows())
    ids = [row.operation_id for row in table]
    assert len(ids) == len(set(ids))
    forwarded = [row for row in table if row.operation != "gateway"]
    assert len(forwarded) >= 39
    assert all(row.permission != "—" or "/api/v1/invitation" in row.path for row in forwarded)


def test_docs_routes_md_is_the_current_route_table() -> None:
    """Regenerate with `python -m advocacy_gateway.routes.table > docs/routes.md`."""
    assert (ROOT / "docs" / "routes.md").read_text("utf-8") == markdown(rows(ROUTERS))


def test_a_route_the_service_could_not_answer_is_refused_when_mounted() -> None:
    router = APIRouter(prefix=PREFIX)
    readiness = "/programs/{program_id}/readiness"
    no_actor = post(readiness, ASSESS_READINESS, Permission.PLANNER_MANAGE, "a", "A",
                    body=ReadinessFields, body_as="assessment")  # fmt: skip
    with pytest.raises(ValueError, match=r"nothing supplies \['assessed_by'\]"):
        mount(router, [no_actor])
    unknown = get("/programs", LIST_PROGRAMS, Permission.PLANNER_READ, "b", "B", paging=BY_ID,
                  params={"colour": str | None})  # fmt: skip
    with pytest.raises(ValueError, match=r"has no field \['colour'\]"):
        mount(router, [unknown])
    reserved = get("/programs", LIST_PROGRAMS, Permission.PLANNER_READ, "c", "C", paging=BY_ID,
                   params={"state": str | None})  # fmt: skip
    with pytest.raises(ValueError, match="reserved"):
        mount(router, [reserved])
