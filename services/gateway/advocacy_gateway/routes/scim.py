"""SCIM 2.0 at `/scim/v2` for the HR system or identity provider (Entra ID, Okta, ...).

The organisation is the API key's (hr or admin scope). Every request is forwarded to the
ambassadors service, which owns the roster; errors are SCIM errors (see problems.py, which
answers in SCIM's format for every path under `/scim/v2`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from advocacy_gateway.auth import RosterManager
from advocacy_gateway.routes.common import State
from advocacy_gateway.scim.discovery import (
    MAX_RESULTS,
    RESOURCE_TYPES,
    SCHEMAS,
    list_response,
    resource_type_document,
    schema_document,
    service_provider_config,
)
from advocacy_gateway.scim.errors import ERROR_SCHEMA, SCIM_JSON, SCIM_PREFIX, ScimError
from advocacy_gateway.scim.filter import parse_filter
from advocacy_gateway.scim.projection import paths_of, project
from advocacy_gateway.scim.users import (
    FILTER_PATHS,
    USER_SCHEMA,
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
    404: _scim_error("No such User or Group in the key's organisation"),
    409: _scim_error("userName is taken (scimType uniqueness)"),
    412: _scim_error("If-Match names another version"),
    413: _scim_error("Body too large"),
    429: _scim_error("Rate limit exceeded (see Retry-After)"),
    503: _scim_error("The roster service is unavailable or not ready yet (see Retry-After)"),
    504: _scim_error("The roster service did not answer in time"),
}

MAX_START_INDEX = 2**31

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
Attributes = Annotated[
    str | None,
    Query(max_length=2000, description="Comma-separated attribute paths to return only these"),
]
ExcludedAttributes = Annotated[
    str | None,
    Query(
        alias="excludedAttributes",
        max_length=2000,
        description="Comma-separated attribute paths to leave out",
    ),
]
SearchBody = Annotated[
    dict[str, Any],
    Body(media_type=SCIM_JSON, description="A SearchRequest (RFC 7644 §3.4.3)"),
]
SortBy = Annotated[
    str | None,
    Query(alias="sortBy", max_length=300, description="An attribute path to sort by"),
]
SortOrder = Annotated[
    str | None,
    Query(alias="sortOrder", max_length=20, description="ascending (default) or descending"),
]
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def base_url_of(request: Request, state: Any) -> str:
    return state.settings.public_base_url or str(request.base_url).rstrip("/")


def _user_response(
    request: Request, state: State, employee: Employee, status: int = 200
) -> ScimResponse:
    user = user_of(employee, base_url_of(request, state))
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


@router.get("/Users", summary="List employees: `filter`, `startIndex`, `count`, `attributes`")
async def list_users(
    access: RosterManager,
    state: State,
    request: Request,
    filter: Annotated[str | None, Query(max_length=1000)] = None,
    start_index: Annotated[int, Query(alias="startIndex")] = 1,
    count: Annotated[int, Query()] = 100,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
) -> ScimResponse:
    query = ListQuery.of(
        filter, start_index, count, attributes, excluded_attributes, sort_by, sort_order
    )
    return ScimResponse(await user_page(access, state, request, query))


@router.post("/Users/.search", summary="List employees, the query in the body (SearchRequest)")
async def search_users(
    body: SearchBody, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    return ScimResponse(await user_page(access, state, request, ListQuery.of_search(body)))


@dataclass(frozen=True)
class ListQuery:
    """What a list or a search asks for, from query parameters or a SearchRequest body."""

    filter: str | None
    start_index: int
    count: int
    attributes: list[str] | None
    excluded: list[str] | None
    sort_by: str | None = None
    descending: bool = False

    @classmethod
    def of(
        cls,
        filter: str | None,
        start_index: Any,
        count: Any,
        attributes: str | list[str] | None,
        excluded: str | list[str] | None,
        sort_by: Any = None,
        sort_order: Any = None,
    ) -> ListQuery:
        if not isinstance(start_index, int) or not isinstance(count, int):
            raise ScimError(400, "startIndex and count must be integers", "invalidValue")
        if filter is not None and (not isinstance(filter, str) or len(filter) > 1000):
            raise ScimError(
                400, "filter must be a string of at most 1000 characters", "invalidFilter"
            )
        if sort_by is not None and (not isinstance(sort_by, str) or len(sort_by) > 300):
            raise ScimError(400, "sortBy must be an attribute path", "invalidValue")
        order = str(sort_order or "ascending").lower()
        if order not in {"ascending", "descending"}:
            raise ScimError(400, "sortOrder is ascending or descending", "invalidValue")
        # RFC 7644 §3.4.2.4: below 1 is read as 1; far past the end is an empty page, and is
        # kept within what a database offset can hold.
        return cls(
            sort_by=sort_by,
            descending=order == "descending",
            filter=filter,
            start_index=min(max(start_index, 1), MAX_START_INDEX),
            count=min(max(count, 0), MAX_RESULTS),
            attributes=paths_of(attributes),
            excluded=paths_of(excluded),
        )

    @classmethod
    def of_search(cls, body: Any) -> ListQuery:
        if not isinstance(body, dict):
            raise ScimError(400, "the body must be a SearchRequest", "invalidSyntax")
        if SEARCH_SCHEMA.lower() not in {str(s).lower() for s in body.get("schemas") or []}:
            raise ScimError(400, f"schemas must be [{SEARCH_SCHEMA!r}]", "invalidSyntax")
        return cls.of(
            body.get("filter"),
            body.get("startIndex", 1),
            body.get("count", 100),
            body.get("attributes"),
            body.get("excludedAttributes"),
            body.get("sortBy"),
            body.get("sortOrder"),
        )

    def sort_attribute(self, paths: Mapping[str, str]) -> Any:
        """The roster's name of the `sortBy` path, among the `paths` of the resource type."""
        if self.sort_by is None:
            return None
        attribute = paths.get(self.sort_by.strip().lower())
        if attribute is None:
            raise ScimError(400, f"cannot sort by {self.sort_by!r}", "invalidValue")
        return attribute


async def user_page(access: Any, state: Any, request: Request, query: ListQuery) -> dict[str, Any]:
    page = await state.rpc.call(
        LIST_EMPLOYEES,
        ListEmployees(
            organisation_id=access.organisation.id,
            filter=parse_filter(query.filter) if query.filter is not None else None,
            start_index=query.start_index,
            count=query.count,
            sort_by=query.sort_attribute(FILTER_PATHS),
            descending=query.descending,
        ),
    )
    base_url = base_url_of(request, state)
    users = [
        project(user_of(employee, base_url), USER_SCHEMA, query.attributes, query.excluded)
        for employee in page.items
    ]
    return list_response(users, page.total_results, query.start_index)


@router.get("/Users/{user_id}", summary="One employee; `attributes`, `excludedAttributes`")
async def get_user(
    user_id: str,
    access: RosterManager,
    state: State,
    request: Request,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> ScimResponse:
    employee = await state.rpc.call(
        GET_EMPLOYEE,
        GetEmployee(organisation_id=access.organisation.id, employee_id=_employee_id(user_id)),
    )
    user = project(
        user_of(employee, base_url_of(request, state)),
        USER_SCHEMA,
        paths_of(attributes),
        paths_of(excluded_attributes),
    )
    return ScimResponse(user, headers={"ETag": etag(employee.version)})


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
async def delete_user(
    user_id: str, access: RosterManager, state: State, if_match: IfMatch = None
) -> Response:
    await state.rpc.call(
        DELETE_EMPLOYEE,
        DeleteEmployee(
            organisation_id=access.organisation.id,
            employee_id=_employee_id(user_id),
            expected_version=version_of(if_match),
        ),
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
    return ScimResponse(service_provider_config(base_url_of(request, state)))


@router.get("/Schemas", summary="The User schema, its extensions and the Group schema")
async def list_schemas(_access: RosterManager, state: State, request: Request) -> ScimResponse:
    base_url = base_url_of(request, state)
    documents = [schema_document(schema_id, base_url) for schema_id in SCHEMAS]
    return ScimResponse(list_response(documents, len(documents), 1))


@router.get("/Schemas/{schema_id}", summary="One schema")
async def get_schema(
    schema_id: str, _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    known = {key.lower(): key for key in SCHEMAS}
    if schema_id.lower() not in known:
        raise ScimError(404, f"no schema {schema_id}")
    return ScimResponse(schema_document(known[schema_id.lower()], base_url_of(request, state)))


@router.get("/ResourceTypes", summary="The resource types: User and Group")
async def list_resource_types(
    _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    base_url = base_url_of(request, state)
    documents = [resource_type_document(base_url, name) for name in RESOURCE_TYPES]
    return ScimResponse(list_response(documents, len(documents), 1))


@router.get("/ResourceTypes/{resource_type}", summary="One resource type")
async def get_resource_type(
    resource_type: str, _access: RosterManager, state: State, request: Request
) -> ScimResponse:
    known = {name.lower(): name for name in RESOURCE_TYPES}
    if resource_type.lower() not in known:
        raise ScimError(404, f"no resource type {resource_type}")
    return ScimResponse(
        resource_type_document(base_url_of(request, state), known[resource_type.lower()])
    )
