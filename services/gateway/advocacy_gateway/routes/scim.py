"""SCIM 2.0 at `/scim/v2` for the HR system or identity provider (Entra ID, Okta, ...).

The organisation is the API key's (hr or admin scope). Every request is forwarded to the
ambassadors service, which owns the roster; errors are SCIM errors (see problems.py, which
answers in SCIM's format for every path under `/scim/v2`).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from advocacy_gateway.auth import RosterManager
from advocacy_gateway.routes.common import State
from advocacy_gateway.scim.discovery import (
    MAX_RESULTS,
    SCHEMAS,
    list_response,
    resource_type_document,
    schema_document,
    service_provider_config,
)
from advocacy_gateway.scim.errors import ERROR_SCHEMA, SCIM_JSON, SCIM_PREFIX, ScimError
from advocacy_gateway.scim.filter import parse_filter
from advocacy_gateway.scim.users import (
    attributes_of,
    changes_of,
    etag,
    user_of,
    version_of,
)
from advocacy_shared.contracts.roster import (
    DELETE_EMPLOYEE,
    GET_EMPLOYEE,
    LIST_EMPLOYEES,
    PATCH_EMPLOYEE,
    PROVISION_EMPLOYEE,
    REPLACE_EMPLOYEE,
    DeleteEmployee,
    Employee,
    GetEmployee,
    ListEmployees,
    PatchEmployee,
    ProvisionEmployee,
    ReplaceEmployee,
)


class ScimResponse(JSONResponse):
    media_type = SCIM_JSON


def _scim_error(description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["schemas", "status"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "enum": [ERROR_SCHEMA]}},
            "status": {"type": "string"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
    }
    return {"description": description, "content": {SCIM_JSON: {"schema": schema}}}


SCIM_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _scim_error("Malformed body, filter or PATCH (scimType says which)"),
    401: _scim_error("Missing, invalid, revoked or expired API key"),
    403: _scim_error("Not an organisation's API key with the hr (or admin) scope"),
    404: _scim_error("No such User in the key's organisation"),
    409: _scim_error("userName is taken (scimType uniqueness)"),
    412: _scim_error("If-Match names another version"),
    413: _scim_error("Body too large"),
    429: _scim_error("Rate limit exceeded (see Retry-After)"),
    503: _scim_error("The roster service is unavailable or not ready yet (see Retry-After)"),
    504: _scim_error("The roster service did not answer in time"),
}

router = APIRouter(
    prefix=SCIM_PREFIX,
    tags=["scim"],
    default_response_class=ScimResponse,
    responses=SCIM_ERRORS,
)

UserBody = Annotated[
    dict[str, Any],
    Body(media_type=SCIM_JSON, description="A SCIM User (RFC 7643 §4.1) with its extensions"),
]
PatchBody = Annotated[
    dict[str, Any],
    Body(media_type=SCIM_JSON, description="A PatchOp message (RFC 7644 §3.5.2)"),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=100)]


def _base_url(request: Request, state: State) -> str:
    return state.settings.public_base_url or str(request.base_url).rstrip("/")


def _user_response(
    request: Request, state: State, employee: Employee, status: int = 200
) -> ScimResponse:
    user = user_of(employee, _base_url(request, state))
    headers = {"ETag": etag(employee.version)}
    if status == 201:
        headers["Location"] = user["meta"]["location"]
    return ScimResponse(user, status_code=status, headers=headers)


@router.post("/Users", status_code=201, summary="Provision an employee (SCIM create)")
async def create_user(
    body: UserBody, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    employee = await state.rpc.call(
        PROVISION_EMPLOYEE,
        ProvisionEmployee(organisation_id=access.organisation.id, attributes=attributes_of(body)),
    )
    return _user_response(request, state, employee, 201)


MAX_START_INDEX = 2**31


@router.get("/Users", summary="List employees: `filter`, `startIndex`, `count`")
async def list_users(
    access: RosterManager,
    state: State,
    request: Request,
    filter: Annotated[str | None, Query(max_length=1000)] = None,
    start_index: Annotated[int, Query(alias="startIndex")] = 1,
    count: Annotated[int, Query()] = 100,
) -> ScimResponse:
    # RFC 7644 §3.4.2.4: below 1 is read as 1; far past the end is an empty page, and is kept
    # within what a database offset can hold.
    start_index = min(max(start_index, 1), MAX_START_INDEX)
    count = min(max(count, 0), MAX_RESULTS)
    page = await state.rpc.call(
        LIST_EMPLOYEES,
        ListEmployees(
            organisation_id=access.organisation.id,
            filter=parse_filter(filter) if filter is not None else None,
            start_index=start_index,
            count=count,
        ),
    )
    base_url = _base_url(request, state)
    users = [user_of(employee, base_url) for employee in page.items]
    return ScimResponse(list_response(users, page.total_results, start_index))


@router.get("/Users/{user_id}", summary="One employee")
async def get_user(
    user_id: str, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    employee = await state.rpc.call(
        GET_EMPLOYEE,
        GetEmployee(organisation_id=access.organisation.id, employee_id=_employee_id(user_id)),
    )
    return _user_response(request, state, employee)


@router.put("/Users/{user_id}", summary="Replace an employee; `active: false` offboards")
async def replace_user(
    user_id: str,
    body: UserBody,
    access: RosterManager,
    state: State,
    request: Request,
    if_match: IfMatch = None,
) -> ScimResponse:
    employee = await state.rpc.call(
        REPLACE_EMPLOYEE,
        ReplaceEmployee(
            organisation_id=access.organisation.id,
            employee_id=_employee_id(user_id),
            attributes=attributes_of(body),
            expected_version=version_of(if_match),
        ),
    )
    return _user_response(request, state, employee)


@router.patch("/Users/{user_id}", summary="Change an employee; `active` false offboards")
async def patch_user(
    user_id: str,
    body: PatchBody,
    access: RosterManager,
    state: State,
    request: Request,
    if_match: IfMatch = None,
) -> ScimResponse:
    employee = await state.rpc.call(
        PATCH_EMPLOYEE,
        PatchEmployee(
            organisation_id=access.organisation.id,
            employee_id=_employee_id(user_id),
            changes=changes_of(body),
            expected_version=version_of(if_match),
        ),
    )
    return _user_response(request, state, employee)


@router.delete(
    "/Users/{user_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an employee: their roster data goes, the ambassador is offboarded",
)
async def delete_user(user_id: str, access: RosterManager, state: State) -> Response:
    await state.rpc.call(
        DELETE_EMPLOYEE,
        DeleteEmployee(organisation_id=access.organisation.id, employee_id=_employee_id(user_id)),
    )
    return Response(status_code=204)


def _employee_id(user_id: str) -> UUID:
    """An id this service never gave is simply an unknown User (404), not a malformed request."""
    try:
        return UUID(user_id)
    except ValueError as exc:
        raise ScimError(404, f"no User {user_id}") from exc


@router.get("/ServiceProviderConfig", summary="What this SCIM service supports")
async def get_service_provider_config(
    _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    return ScimResponse(service_provider_config(_base_url(request, state)))


@router.get("/Schemas", summary="The User schema and its extensions")
async def list_schemas(_access: RosterManager, state: State, request: Request) -> ScimResponse:
    base_url = _base_url(request, state)
    documents = [schema_document(schema_id, base_url) for schema_id in SCHEMAS]
    return ScimResponse(list_response(documents, len(documents), 1))


@router.get("/Schemas/{schema_id}", summary="One schema")
async def get_schema(
    schema_id: str, _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    known = {key.lower(): key for key in SCHEMAS}
    if schema_id.lower() not in known:
        raise ScimError(404, f"no schema {schema_id}")
    return ScimResponse(schema_document(known[schema_id.lower()], _base_url(request, state)))


@router.get("/ResourceTypes", summary="The resource types: User")
async def list_resource_types(
    _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    return ScimResponse(list_response([resource_type_document(_base_url(request, state))], 1, 1))


@router.get("/ResourceTypes/{resource_type}", summary="One resource type")
async def get_resource_type(
    resource_type: str, _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    if resource_type.lower() != "user":
        raise ScimError(404, f"no resource type {resource_type}")
    return ScimResponse(resource_type_document(_base_url(request, state)))
