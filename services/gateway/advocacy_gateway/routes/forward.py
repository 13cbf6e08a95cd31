"""Forwarding routes declared as data, and the one function that mounts them.

Most of the REST API only forwards: it checks the caller's permission in the organisation, builds
the owning service's typed request from the path, the query, the body and the caller, calls the
operation over request-reply and answers its reply. A `Forward` names what differs between such
routes; `mount` turns each into a FastAPI route with the signature one would have written by
hand (path parameters, body, the permission's dependency, paging, headers), so the OpenAPI
document keeps its operation ids (`name`), `x-permission` (read off the dependency), parameters,
request and response schemas and problem responses.

Request fields come by name: `organisation_id` from the path's organisation, then each path and
query parameter under its own name, the body (spread, or under `body_as`), the paging position,
`fixed` values and fields taken from the caller (`from_caller`).
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from advocacy_gateway.access import Permission
from advocacy_gateway.auth import Access, require
from advocacy_gateway.routes.common import (
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    after_id,
    after_number,
    cursor_of,
)
from advocacy_gateway.state import GatewayState
from advocacy_shared.contracts.base import Operation

Present = Callable[[Any, Access | None, GatewayState], Any]
"""Turns a service's reply into the answer: `(reply, access, state) -> answer`."""

FromCaller = Callable[[Access], Any]

Check = Callable[[Any, Access, GatewayState], Awaitable[None]]
"""Runs on the built request before it is sent: `(request, access, state)`; raises to refuse
(references to another service's records are checked so)."""

After = Callable[[Any, Any, Access, GatewayState], Awaitable[None]]
"""Runs once the service has answered: `(request, reply, access, state)` (an audit entry)."""


def actor(access: Access) -> str:
    """The caller as the audit trail of another service names it (bounded)."""
    return access.principal.actor[:300]


def reference(access: Access) -> str:
    """The caller by id alone, for records another service keeps."""
    return access.principal.reference


@dataclass(frozen=True)
class Paging:
    """How a list pages: the request's position field, how a cursor becomes a position, and the
    reply's field holding the next position (which becomes `next_cursor`)."""

    request_field: str
    position: Callable[[str | None], UUID | int | None]
    reply_field: str


BY_ID = Paging("after", after_id, "next_after")
BY_NUMBER = Paging("after", after_number, "next_after")
NEWEST_FIRST = Paging("before", lambda cursor: after_number(cursor, minimum=1), "next_before")


@dataclass(frozen=True)
class Forward:
    """One forwarding route. Path parameters not named in `params` are UUIDs; a parameter whose
    type admits None is optional. A creating POST (201) accepts an `Idempotency-Key`."""

    method: str
    path: str
    operation: Operation[Any, Any]
    permission: Permission | None
    name: str
    summary: str
    body: type[BaseModel] | None = None
    body_as: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    paging: Paging | None = None
    status_code: int = 200
    location: str | None = None
    responses: Mapping[int | str, dict[str, Any]] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    from_caller: Mapping[str, FromCaller] = field(default_factory=dict)
    present: Present | None = None
    response_model: Any = None
    check: Check | None = None
    after: After | None = None

    @property
    def idempotent(self) -> bool:
        return self.method == "POST" and self.status_code == 201

    @property
    def passes_reply_on(self) -> bool:
        """Whether the answer is the service's reply as it is: then the gateway sends the reply's
        JSON bytes on without validating and serializing them again (the service serialized them
        from its validated reply; the OpenAPI document still names the reply's schema)."""
        return (
            self.response_model is None
            and self.present is None
            and self.paging is None
            and self.after is None
            and self.location is None
            and self.status_code != 204  # an answer without a body
        )

    @property
    def answer_model(self) -> Any:
        if self.response_model is not None:
            return self.response_model
        if self.paging is not None:
            return Page[_item_type(self.operation)]  # type: ignore[misc]
        return self.operation.reply


def get(path: str, operation: Operation[Any, Any], *args: Any, **kwargs: Any) -> Forward:
    return Forward("GET", path, operation, *args, **kwargs)


def post(path: str, operation: Operation[Any, Any], *args: Any, **kwargs: Any) -> Forward:
    return Forward("POST", path, operation, *args, **kwargs)


def put(path: str, operation: Operation[Any, Any], *args: Any, **kwargs: Any) -> Forward:
    return Forward("PUT", path, operation, *args, **kwargs)


def patch(path: str, operation: Operation[Any, Any], *args: Any, **kwargs: Any) -> Forward:
    return Forward("PATCH", path, operation, *args, **kwargs)


def delete(path: str, operation: Operation[Any, Any], *args: Any, **kwargs: Any) -> Forward:
    return Forward("DELETE", path, operation, *args, **kwargs)


def mount(router: APIRouter, routes: Iterable[Forward]) -> APIRouter:
    """Add each forwarding route to `router` (whose prefix, tags and responses apply)."""
    for route in routes:
        path_params = _path_params(router.prefix + route.path)
        _check(route, path_params)
        router.add_api_route(
            route.path,
            _endpoint(route, path_params),
            methods=[route.method],
            name=route.name,
            summary=route.summary,
            status_code=route.status_code,
            response_model=route.answer_model,
            responses=dict(route.responses) if route.responses else None,
        )
    return router


def _path_params(path: str) -> list[str]:
    """The path's parameters but the organisation's (which the permission's dependency reads)."""
    return [name for name in re.findall(r"{(\w+)}", path) if name != "org_id"]


RESERVED = frozenset({"access", "state", "response", "body", "limit", "cursor", "idempotency_key"})


def _check(route: Forward, path_params: list[str]) -> None:
    """Refuse, when the module is imported, a route whose request the service could not accept:
    a field it does not have, a required one left out, a parameter named as a reserved one."""
    clash = RESERVED & set(route.params)
    if clash:
        raise ValueError(f"{route.name}: parameters named {sorted(clash)} are reserved")
    supplied = {*path_params, *route.params, *route.fixed, *route.from_caller}
    if route.permission is not None:
        supplied.add("organisation_id")
    if route.paging is not None:
        supplied |= {"limit", route.paging.request_field}
    if route.body is not None:
        supplied |= {route.body_as} if route.body_as else set(route.body.model_fields)
    fields = route.operation.request.model_fields
    unknown = supplied - set(fields)
    missing = {name for name, info in fields.items() if info.is_required()} - supplied
    if unknown or missing:
        raise ValueError(
            f"{route.name}: {route.operation.request.__name__} has no field {sorted(unknown)}; "
            f"nothing supplies {sorted(missing)}"
        )


def _endpoint(route: Forward, path_params: list[str]) -> Callable[..., Any]:
    operation, paging, answer = route.operation, route.paging, route.answer_model
    passes_reply_on = route.passes_reply_on

    async def endpoint(**values: Any) -> Any:
        access: Access | None = values.pop("access", None)
        state: GatewayState = values.pop("state")
        response: Response | None = values.pop("response", None)
        values.pop("idempotency_key", None)
        fields: dict[str, Any] = {}
        if access is not None:
            fields["organisation_id"] = access.organisation.id
            fields.update({name: take(access) for name, take in route.from_caller.items()})
        body: BaseModel | None = values.pop("body", None)
        if body is not None:
            fields.update({route.body_as: body} if route.body_as else body.model_dump())
        if paging is not None:
            fields[paging.request_field] = paging.position(values.pop("cursor"))
        fields.update(values)
        fields.update(route.fixed)
        request = operation.request(**fields)
        if route.check is not None and access is not None:
            await route.check(request, access, state)
        if passes_reply_on:
            content = await state.rpc.call_json(operation, request)
            return Response(content, route.status_code, media_type="application/json")
        reply = await state.rpc.call(operation, request)
        if route.after is not None and access is not None:
            await route.after(request, reply, access, state)
        if response is not None and route.location is not None and access is not None:
            response.headers["Location"] = route.location.format(
                org_id=access.organisation.id, reply=reply
            )
        if route.present is not None:
            return route.present(reply, access, state)
        if paging is not None:
            return _page(answer, reply, paging)
        return reply

    endpoint.__signature__ = _signature(route, path_params)  # type: ignore[attr-defined]
    endpoint.__name__ = route.name
    endpoint.forward = route  # type: ignore[attr-defined]
    return endpoint


def _signature(route: Forward, path_params: list[str]) -> inspect.Signature:
    """The parameters FastAPI reads, in the order a hand-written route would declare them."""
    kinds: list[tuple[str, Any]] = [(name, route.params.get(name, UUID)) for name in path_params]
    if route.body is not None:
        kinds.append(("body", route.body))
    if route.permission is not None:
        kinds.append(("access", _access(route.permission)))
    kinds.append(("state", State))
    if route.location is not None:
        kinds.append(("response", Response))
    if route.paging is not None:
        kinds += [("limit", Limit), ("cursor", CursorParam)]
    kinds += [(n, t) for n, t in route.params.items() if n not in path_params]
    if route.idempotent:
        kinds.append(("idempotency_key", IdempotencyKey))
    defaults = {"limit": 50}
    return inspect.Signature(
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=defaults.get(
                    name, None if _optional(annotation) else inspect.Parameter.empty
                ),
            )
            for name, annotation in kinds
        ]
    )


@cache
def _access(permission: Permission) -> Any:
    return Annotated[Access, Depends(require(permission))]


def _optional(annotation: Any) -> bool:
    """Whether a parameter's type admits None (then it is optional, None by default)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        return type(None) in get_args(annotation)
    return False


def _item_type(operation: Operation[Any, Any]) -> Any:
    """The item type of a paged reply (its `items: list[Item]`)."""
    (item,) = get_args(operation.reply.model_fields["items"].annotation)
    return item


def _page(model: type[BaseModel], reply: Any, paging: Paging) -> BaseModel:
    """The answer's page from the reply's: the same fields, the next position as a cursor."""
    fields = {name: getattr(reply, name) for name in model.model_fields if name != "next_cursor"}
    return model(**fields, next_cursor=cursor_of(getattr(reply, paging.reply_field)))
