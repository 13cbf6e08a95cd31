"""The REST API: organisations, and each organisation's requests forwarded to its services."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from advocacy_gateway import service
from advocacy_gateway.auth import Caller
from advocacy_gateway.models import Organisation
from advocacy_gateway.problems import PROBLEM_JSON, Problem, ProblemError
from advocacy_gateway.repository import OrganisationRepository
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.errors import Conflict, RpcError
from advocacy_shared.contracts.planner import GET_PLAYBOOK, GetPlaybook, Playbook
from advocacy_shared.contracts.system import SERVICES, PingRequest, ping

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}
    for status, description in {
        400: "Malformed JSON",
        401: "Missing or invalid API key",
        404: "Unknown organisation",
        413: "Body too large",
        422: "Validation error",
        503: "A service is unavailable or not ready yet (see Retry-After)",
        504: "A service did not answer in time",
    }.items()
}


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(gateway_state)]

health = APIRouter(tags=["health"])
api = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


@health.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@health.get(
    "/readyz",
    summary="NATS is reachable and every service answers a ping",
    responses={503: PROBLEM_RESPONSES[503]},
)
async def readyz(request: Request, state: State) -> Any:
    nats_ok = state.nc is not None and state.nc.is_connected
    services: dict[str, str] = {}
    if nats_ok:
        results = await asyncio.gather(
            *(
                state.rpc.call(
                    ping(name), PingRequest(), timeout=state.settings.readiness_timeout_seconds
                )
                for name in SERVICES
            ),
            return_exceptions=True,
        )
        for name, result in zip(SERVICES, results, strict=True):
            services[name] = "ready" if not isinstance(result, BaseException) else _why(result)
    ready = nats_ok and all(status == "ready" for status in services.values())
    body = {"status": "ready" if ready else "not ready", "nats": nats_ok, "services": services}
    if ready:
        return body
    raise ProblemError(
        503,
        "not-ready",
        "the platform is not ready",
        headers={"Retry-After": "1"},
        nats=nats_ok,
        services=services,
    )


def _why(error: BaseException) -> str:
    return error.message if isinstance(error, RpcError) else type(error).__name__


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Acme A/S"])
    slug: str | None = Field(
        default=None,
        pattern=service.SLUG_PATTERN,
        description="URL-friendly identifier; derived from the name when left out",
        examples=["acme"],
    )


class OrganisationOut(BaseModel):
    id: UUID
    name: str
    slug: str
    created_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationOut:
        return cls.model_validate(organisation, from_attributes=True)


class OrganisationPage(BaseModel):
    items: list[OrganisationOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


@api.post(
    "/orgs",
    status_code=201,
    response_model=OrganisationOut,
    summary="Create an organisation (tenant); every service provisions it from the event",
    responses={409: {"model": Problem, "description": "The slug is taken"}},
    tags=["organisations"],
)
async def create_organisation(
    body: OrganisationCreate, caller: Caller, state: State, response: Response
) -> OrganisationOut:
    try:
        async with state.transaction() as session:
            organisation = await service.create_organisation(
                session, state.outbox, body.name, body.slug
            )
    except IntegrityError as exc:
        raise Conflict("an organisation with that slug exists already") from exc
    response.headers["Location"] = f"/api/v1/orgs/{organisation.id}"
    return OrganisationOut.of(organisation)


@api.get("/orgs", response_model=OrganisationPage, tags=["organisations"])
async def list_organisations(
    caller: Caller,
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OrganisationPage:
    after = _decode_cursor(cursor) if cursor else None
    async with state.sessions() as session:
        organisations = await OrganisationRepository(session).page(limit + 1, after)
    more = len(organisations) > limit
    organisations = organisations[:limit]
    next_cursor = _encode_cursor(organisations[-1]) if more else None
    return OrganisationPage(
        items=[OrganisationOut.of(o) for o in organisations], next_cursor=next_cursor
    )


def _encode_cursor(organisation: Organisation) -> str:
    raw = f"{organisation.created_at.isoformat()}|{organisation.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created_at, organisation_id = base64.urlsafe_b64decode(cursor).decode().split("|")
        return datetime.fromisoformat(created_at), UUID(organisation_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ProblemError(400, "bad-cursor", "the cursor is not one this API gave") from exc


async def known_organisation(org_id: UUID, caller: Caller, state: State) -> Organisation:
    """Resolve the organisation from the path; an unknown one is a 404 problem."""
    async with state.sessions() as session:
        organisation = await OrganisationRepository(session).get(org_id)
    if organisation is None:
        raise ProblemError(404, "unknown-organisation", f"no organisation {org_id}")
    return organisation


Org = Annotated[Organisation, Depends(known_organisation)]


@api.get("/orgs/{org_id}", response_model=OrganisationOut, tags=["organisations"])
async def get_organisation(organisation: Org) -> OrganisationOut:
    return OrganisationOut.of(organisation)


@api.get(
    "/orgs/{org_id}/playbook",
    response_model=Playbook,
    summary="The organisation's current playbook (challenge → enablement format matrix)",
    tags=["planner"],
)
async def get_playbook(organisation: Org, state: State) -> Playbook:
    return await state.rpc.call(GET_PLAYBOOK, GetPlaybook(organisation_id=organisation.id))


__all__ = ["api", "health"]
