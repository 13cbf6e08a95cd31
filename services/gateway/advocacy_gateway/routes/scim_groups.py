"""SCIM 2.0 Groups at `/scim/v2/Groups`, and `POST /scim/v2/.search` across Users and Groups.

A group is a named set of employees of the roster, as the identity provider assigns people to
the application ("Sales", "Advocacy pilot"); the ambassadors service keeps it and publishes who
joins and leaves (docs/scim.md, "Groups").
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response

from advocacy_gateway.auth import RosterManager
from advocacy_gateway.routes.common import State
from advocacy_gateway.routes.scim import (
    SCIM_ERRORS,
    Attributes,
    ExcludedAttributes,
    IfMatch,
    ListQuery,
    PatchBody,
    ScimResponse,
    SearchBody,
    SortBy,
    SortOrder,
    base_url_of,
    user_page,
)
from advocacy_gateway.scim.discovery import list_response
from advocacy_gateway.scim.errors import SCIM_PREFIX, ScimError
from advocacy_gateway.scim.filter import parse_filter
from advocacy_gateway.scim.groups import (
    GROUP_FILTER_PATHS,
    GROUP_SCHEMA,
    GROUP_VALUE_PATHS,
    changes_of,
    fields_of,
    group_of,
)
from advocacy_gateway.scim.projection import paths_of, project
from advocacy_gateway.scim.users import etag, version_of
from advocacy_shared.contracts.roster import (
    CREATE_GROUP,
    DELETE_GROUP,
    GET_GROUP,
    LIST_GROUPS,
    PATCH_GROUP,
    REPLACE_GROUP,
    CreateGroup,
    DeleteGroup,
    GetGroup,
    Group,
    ListGroups,
    PatchGroup,
    ReplaceGroup,
)

router = APIRouter(
    prefix=SCIM_PREFIX,
    tags=["scim"],
    default_response_class=ScimResponse,
    responses=SCIM_ERRORS,
)

GroupBody = Annotated[
    dict[str, Any],
    Body(media_type="application/scim+json", description="A SCIM Group (RFC 7643 §4.2)"),
]


def _response(
    request: Request, state: Any, group: Group, status: int = 200, **projection: Any
) -> ScimResponse:
    resource = group_of(group, base_url_of(request, state))
    resource = project(
        resource, GROUP_SCHEMA, projection.get("attributes"), projection.get("excluded")
    )
    headers = {"ETag": etag(group.version)}
    if status == 201:
        headers["Location"] = resource["meta"]["location"]
    return ScimResponse(resource, status_code=status, headers=headers)


@router.post("/Groups", status_code=201, summary="Create a group of employees")
async def create_group(
    body: GroupBody, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    group = await state.rpc.call(
        CREATE_GROUP, CreateGroup(organisation_id=access.organisation.id, fields=fields_of(body))
    )
    return _response(request, state, group, 201)


@router.get("/Groups", summary="List groups: `filter`, `startIndex`, `count`, `attributes`")
async def list_groups(
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
    return ScimResponse(await group_page(access, state, request, query))


@router.post("/Groups/.search", summary="List groups, the query in the body (SearchRequest)")
async def search_groups(
    body: SearchBody, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    return ScimResponse(await group_page(access, state, request, ListQuery.of_search(body)))


@router.post("/.search", summary="Search Users and Groups at once (SearchRequest)")
async def search_all(
    body: SearchBody, access: RosterManager, state: State, request: Request
) -> ScimResponse:
    """Users first, then Groups, paged as one list. A filter applies to the resource types whose
    attributes it names (a filter on `userName` finds no Group)."""
    query = ListQuery.of_search(body)
    users = await _page_or_none(user_page(access, state, request, query))
    users_total = users["totalResults"] if users else 0
    shown = users["Resources"] if users else []
    # Where the groups start in the combined list, and how many of them the page still takes.
    group_start = max(query.start_index - users_total, 1)
    group_count = max(query.count - len(shown), 0)
    group_query = ListQuery(
        query.filter, group_start, group_count, query.attributes, query.excluded
    )  # sorted within each resource type only: a sortBy of Users may name no Group attribute
    groups = await _page_or_none(group_page(access, state, request, group_query))
    if users is None and groups is None:
        raise ScimError(400, "the filter names no attribute of Users or Groups", "invalidFilter")
    resources = shown + (groups["Resources"] if groups else [])
    total = users_total + (groups["totalResults"] if groups else 0)
    return ScimResponse(list_response(resources, total, query.start_index))


async def _page_or_none(page: Any) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = await page
    except ScimError as error:
        if error.scim_type == "invalidFilter":
            return None
        raise
    return result


async def group_page(access: Any, state: Any, request: Request, query: ListQuery) -> dict[str, Any]:
    with_members = _wants_members(query)
    page = await state.rpc.call(
        LIST_GROUPS,
        ListGroups(
            organisation_id=access.organisation.id,
            filter=parse_filter(query.filter, GROUP_FILTER_PATHS, GROUP_VALUE_PATHS)
            if query.filter
            else None,
            start_index=query.start_index,
            count=query.count,
            sort_by=query.sort_attribute(GROUP_FILTER_PATHS),
            descending=query.descending,
            with_members=with_members,
        ),
    )
    base_url = base_url_of(request, state)
    groups = [
        project(group_of(group, base_url), GROUP_SCHEMA, query.attributes, query.excluded)
        for group in page.items
    ]
    return list_response(groups, page.total_results, query.start_index)


def _wants_members(query: ListQuery) -> bool:
    """Members are read only when they are returned (Entra ID lists with excludedAttributes)."""
    if query.attributes:
        return any(path.lower().split(".")[0].endswith("members") for path in query.attributes)
    return not any(path.lower().endswith("members") for path in query.excluded or [])


@router.get("/Groups/{group_id}", summary="One group; `attributes`, `excludedAttributes`")
async def get_group(
    group_id: str,
    access: RosterManager,
    state: State,
    request: Request,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> ScimResponse:
    attribute_paths, excluded = paths_of(attributes), paths_of(excluded_attributes)
    query = ListQuery(None, 1, 1, attribute_paths, excluded)
    group = await state.rpc.call(
        GET_GROUP,
        GetGroup(
            organisation_id=access.organisation.id,
            group_id=_group_id(group_id),
            with_members=_wants_members(query),
        ),
    )
    return _response(request, state, group, attributes=attribute_paths, excluded=excluded)


@router.put("/Groups/{group_id}", summary="Replace a group (its name and all its members)")
async def replace_group(
    group_id: str,
    body: GroupBody,
    access: RosterManager,
    state: State,
    request: Request,
    if_match: IfMatch = None,
) -> ScimResponse:
    group = await state.rpc.call(
        REPLACE_GROUP,
        ReplaceGroup(
            organisation_id=access.organisation.id,
            group_id=_group_id(group_id),
            fields=fields_of(body),
            expected_version=version_of(if_match),
        ),
    )
    return _response(request, state, group)


@router.patch("/Groups/{group_id}", summary="Add or remove members, rename a group")
async def patch_group(
    group_id: str,
    body: PatchBody,
    access: RosterManager,
    state: State,
    request: Request,
    if_match: IfMatch = None,
) -> ScimResponse:
    group = await state.rpc.call(
        PATCH_GROUP,
        PatchGroup(
            organisation_id=access.organisation.id,
            group_id=_group_id(group_id),
            changes=changes_of(body),
            expected_version=version_of(if_match),
        ),
    )
    return _response(request, state, group)


@router.delete(
    "/Groups/{group_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a group: its members leave it (they stay on the roster)",
)
async def delete_group(
    group_id: str, access: RosterManager, state: State, if_match: IfMatch = None
) -> Response:
    await state.rpc.call(
        DELETE_GROUP,
        DeleteGroup(
            organisation_id=access.organisation.id,
            group_id=_group_id(group_id),
            expected_version=version_of(if_match),
        ),
    )
    return Response(status_code=204)


def _group_id(group_id: str) -> UUID:
    try:
        return UUID(group_id)
    except ValueError as exc:
        raise ScimError(404, f"no Group {group_id}") from exc
