"""The fast lane: forwarding reads and writes answered without FastAPI's route matching and
dependency resolution, which cost a request about two thirds of the gateway's CPU
(docs/performance.md, "The fifth round" and "The ninth round").

A lane serves one forwarding route (`routes/forward.py`) that is a plain read: `GET`, the caller's
permission in the organisation of the path, path parameters that are all UUIDs, query parameters
that are all optional, and an answer that is the service's reply as it is (`passes_reply_on`). It
also serves a hand-written plain read (`_plain`): `GET`, UUID path parameters and nothing else to
parse, the permission dependency and at most the gateway's state, and a response model, which the
lane serializes with FastAPI's own `serialize_response` as FastAPI's request handler does.
It serves only requests that FastAPI would hand that route with nothing to validate but the path:
no query string (every query parameter then takes its default, None), path parameters that
parse as UUIDs, tracing off. Anything else, and every other route, goes to FastAPI's middleware
and router as before. What a lane runs is the route's own: the application-wide rate-limit
dependency, the route's permission dependency (the same function object) and its endpoint, with
the same arguments; errors go to the same exception handlers. It sets the scope's `route`,
`endpoint` and `path_params` as routing would (the request metrics label by `route`).

The lane sits in front of the gateway's middleware, just inside FastAPI's server-error handler
(`with_fast_lane`), and does for its requests what the layers it skips would do (`FastLane`):
so it serves only requests that those layers pass on unchanged, with a credential, without an
`Idempotency-Key`, and with a body within the limit that its length frames.

A forwarding write (`_write`: `POST`, a JSON body of one model, no query, no header parameter
but `Idempotency-Key`) has a lane too, for requests with `Content-Type: application/json` exactly
and no `Idempotency-Key` (a request with one goes to FastAPI, which validates the header). The
lane parses the body as FastAPI does; an empty body or one that is not JSON goes to FastAPI, the
bytes already read given back first, so that FastAPI answers it as before. It then runs the
dependencies, validates the body with FastAPI's own `request_body_to_args` (its errors raised as
FastAPI raises them), and answers with the route's status and the headers the endpoint set
(`Location`).

A lane is built only when no other route could answer one of its paths first: a route that
overlaps it anywhere in the application (literal segments that could be equal, a parameter, a
mount) leaves the path to FastAPI. `tests/gateway/test_fast_lane.py` compares the lane's answers
with FastAPI's, byte for byte, for successes and refusals.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, cast, get_args, get_origin
from uuid import UUID

from fastapi import Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from pydantic import TypeAdapter, ValidationError
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advocacy_gateway.middleware import (
    CORRELATION_HEADER,
    correlation_id_of,
    count_response,
    replay,
)
from advocacy_gateway.ratelimit import (
    RateLimiter,
    charge_route,
    has_credential,
    headers_to_add,
    open_account,
)
from advocacy_gateway.routes.common import gateway_state
from advocacy_gateway.routes.forward import Forward, _access, _optional, _path_params
from advocacy_shared.logs import correlation_id_var

_UUID = TypeAdapter(UUID)
_SEGMENT_PARAM = re.compile(r"{[^}]*}")


@dataclass(frozen=True)
class Lane:
    route: APIRoute
    permission: Any  # the route's own permission dependency
    uuid_params: tuple[str, ...]
    query_params: tuple[str, ...]
    access_param: str = "access"
    state_param: str | None = "state"
    serializes: bool = False
    """Whether the endpoint answers a model, which the lane serializes as FastAPI does (a
    hand-written route), rather than a `Response` (a forwarding route passing the reply on)."""
    passes_org_id: bool = False
    """Whether the endpoint takes the organisation's id itself, besides its permission."""
    method: str = "GET"
    """`POST`: a forwarding write, whose JSON body the lane validates as FastAPI does."""
    response_param: str | None = None
    """The endpoint's `Response` parameter (its headers go into the answer: `Location`)."""
    idempotency_param: str | None = None
    """The endpoint's `Idempotency-Key` header parameter: a request that gives the header goes
    to FastAPI, which validates it; the lane passes None."""


class FastLane:
    """Serves the lanes' requests in front of the gateway's middleware, doing what those layers
    would do for them; hands every other request to `app`, the rest of the middleware stack.

    It sits inside FastAPI's server-error handler (`with_fast_lane`), so an exception that no
    handler takes ends as before; for a lane's request it does itself what the layers it skips
    do: the edge's correlation id, metrics and size limit (`advocacy_gateway.middleware`), the
    rate limit's pending charge and headers (`advocacy_gateway.ratelimit`), and the application's
    exception handlers, looked up as Starlette's exception middleware looks them up. Each layer
    costs a request a coroutine and most a wrapped `send` (docs/performance.md, "The tenth
    round"). A lane serves only requests that those skipped layers would pass on unchanged: a
    credential (the rate limit then only notes the request), no `Idempotency-Key` (the
    idempotency layer then passes it on), a body within the limit and framed by its length.
    """

    def __init__(
        self,
        app: ASGIApp,
        lanes: Iterable[Lane],
        *,
        limiter: RateLimiter,
        max_bytes: int,
        handlers: ExceptionMiddleware,
    ) -> None:
        self.app = app
        self.lanes = list(lanes)
        self.limiter = limiter
        self.max_bytes = max_bytes
        # The exception middleware's own tables (Starlette keeps them private): the same handlers,
        # FastAPI's defaults among them. tests/gateway/test_fast_lane.py compares the refusals.
        self.exception_handlers = handlers._exception_handlers
        self.status_handlers = handlers._status_handlers
        self.by_last_segment: dict[str, dict[str, list[Lane]]] = {"GET": {}, "POST": {}}
        self.ending_in_a_parameter: dict[str, list[Lane]] = {"GET": [], "POST": []}
        for lane in self.lanes:
            last = lane.route.path.rsplit("/", 1)[1]
            if _SEGMENT_PARAM.search(last):
                self.ending_in_a_parameter[lane.method].append(lane)
            else:
                self.by_last_segment[lane.method].setdefault(last, []).append(lane)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._lane_for(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()  # as the edge times a request: its body's reading too
        body: Any = None
        if found.lane.method == "POST":
            body, read = await _json_body(receive)
            receive = replay(read, receive)
            if body is None:  # empty or not JSON: FastAPI answers, from the same bytes
                await self.app(scope, receive, send)
                return
        await self._serve(found, body, scope, receive, send, started)

    def _lane_for(self, scope: Scope) -> _Found | None:
        method = scope["method"]
        if (
            method not in self.by_last_segment
            or (method == "POST" and not _plain_json(scope))
            or scope.get("query_string")
            or scope.get("root_path")
            or scope.get("fastapi.telemetry") is not None
        ):
            return None
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if (
            not has_credential(headers)
            or b"transfer-encoding" in headers
            or (
                declared is not None
                and not (declared.isdigit() and int(declared) <= self.max_bytes)
            )
        ):
            return None
        path: str = scope["path"]
        candidates = self.by_last_segment[method].get(path.rsplit("/", 1)[-1], ())
        for lane in (*candidates, *self.ending_in_a_parameter[method]):
            match = lane.route.path_regex.match(path)
            if match is not None:
                path_params = match.groupdict()
                values = _uuids(path_params)
                if values is None:
                    return None  # not a UUID: FastAPI's validation answers
                return _Found(lane, path_params, values, headers)
        return None

    async def _serve(
        self, found: _Found, body: Any, scope: Scope, receive: Receive, send: Send, started: float
    ) -> None:
        status = 500
        correlation_id = correlation_id_of(found.headers)
        token = correlation_id_var.set(correlation_id)
        try:
            open_account(self.limiter, scope, credential=True)
            request = Request(scope, receive, send)
            try:
                response = await _answer(found, body, scope, request)
            except Exception as exc:
                response = await self._handled(request, exc)
            response.raw_headers.extend(headers_to_add(self.limiter, scope, response.raw_headers))
            response.raw_headers.append((CORRELATION_HEADER, correlation_id.encode()))
            status = response.status_code
            await response(scope, receive, send)
        finally:
            correlation_id_var.reset(token)
            count_response(scope, started, status)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """The application's answer to `exc`, from the handler Starlette's exception middleware
        would pick (by status for an `HTTPException`, else by the exception's class and its
        bases). Without one, `exc` is raised again, for the server-error handler."""
        handler: Any = None  # Starlette's type takes a request or a websocket
        if isinstance(exc, StarletteHTTPException):
            handler = self.status_handlers.get(exc.status_code)
        if handler is None:
            handler = next(
                (
                    self.exception_handlers[cls]
                    for cls in type(exc).__mro__
                    if cls in self.exception_handlers
                ),
                None,
            )
        if handler is None:
            raise exc
        if is_async_callable(handler):
            response = await handler(request, exc)
        else:
            response = await run_in_threadpool(handler, request, exc)
        exc.__traceback__ = None  # as Starlette does: a reused exception keeps no traceback
        if not isinstance(response, Response):
            raise exc
        return response


@dataclass(frozen=True, slots=True)
class _Found:
    """A request's lane, its path parameters (as text and as UUIDs) and its headers."""

    lane: Lane
    path_params: dict[str, str]
    values: dict[str, UUID]
    headers: dict[bytes, bytes]


async def _answer(found: _Found, body: Any, scope: Scope, request: Request) -> Response:
    """What the route's endpoint answers, its dependencies run as FastAPI runs them."""
    lane, route = found.lane, found.lane.route
    scope.setdefault("router", scope["app"].router)
    scope["endpoint"] = route.endpoint
    scope["path_params"] = found.path_params
    scope["route"] = route
    await charge_route(request)
    values = dict(found.values)
    org_id = values.pop("org_id")
    arguments: dict[str, Any] = {name: None for name in lane.query_params}
    arguments[lane.access_param] = await lane.permission(org_id=org_id, request=request)
    if lane.state_param is not None:
        arguments[lane.state_param] = await gateway_state(request)
    if lane.passes_org_id:
        arguments["org_id"] = org_id
    headers = None  # the endpoint's `Response` parameter, made only for one that takes it
    if lane.method == "POST":
        arguments.update(await _validated_body(route, body))
        if lane.idempotency_param is not None:
            arguments[lane.idempotency_param] = None
        if lane.response_param is not None:
            headers = arguments[lane.response_param] = _sub_response()
    answer = await route.endpoint(**values, **arguments)
    if not lane.serializes:
        return cast(Response, answer)  # a forwarding route's: the reply, passed on
    return await _serialized(route, answer, headers)


def with_fast_lane(
    stack: ASGIApp, lanes: Iterable[Lane], limiter: RateLimiter, max_bytes: int
) -> ASGIApp:
    """FastAPI's middleware stack (`build_middleware_stack`) with the lane just inside its
    server-error handler, the outermost layer."""
    if not isinstance(stack, ServerErrorMiddleware):
        raise TypeError(f"FastAPI's stack starts with {type(stack).__name__}")
    stack.app = FastLane(
        stack.app,
        lanes,
        limiter=limiter,
        max_bytes=max_bytes,
        handlers=_layer(stack.app, ExceptionMiddleware),
    )
    return stack


def _layer(app: Any, kind: type[ExceptionMiddleware]) -> ExceptionMiddleware:
    """The first layer of `kind` in a stack of middleware (each holding the next as `app`)."""
    while not isinstance(app, kind):
        app = getattr(app, "app", None)
        if app is None:
            raise TypeError(f"no {kind.__name__} in the stack")
    return app


def _sub_response() -> Response:
    """The `Response` an endpoint may set headers and a status on, as FastAPI makes it."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


def _plain_json(scope: Scope) -> bool:
    """A request with one `Content-Type`, `application/json` exactly, and no `Idempotency-Key`
    (which FastAPI validates as a header parameter): the only writes a lane serves."""
    content_types = []
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_types.append(value)
        elif name == b"idempotency-key":
            return False
    return content_types == [b"application/json"]


async def _json_body(receive: Receive) -> tuple[Any, list[Message]]:
    """The request's JSON body (None when it is empty, not JSON or not all received), and the
    messages read, to be given back to whoever reads the body next."""
    read: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return None, read
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)
    if not raw:
        return None, read
    try:
        return json.loads(raw), read
    except json.JSONDecodeError:
        return None, read


async def _validated_body(route: APIRoute, body: Any) -> dict[str, Any]:
    """The body's argument as FastAPI's dependency solving validates it (its own function, after
    the dependencies, as FastAPI runs them), or the same validation error."""
    values, errors = await request_body_to_args(
        route.dependant.body_params,
        body,
        route._embed_body_fields,  # FastAPI's own flag for this route
    )
    if errors:
        raise RequestValidationError(errors, body=body)
    return values


async def _serialized(route: APIRoute, answer: Any, headers: Response | None) -> Response:
    """The endpoint's answer as FastAPI's request handler turns it into a response, for a route
    with a response model and the default response class: the route's status (or the one the
    endpoint set on its `Response` parameter), and that parameter's headers added."""
    content = await serialize_response(
        field=route.response_field,
        response_content=answer,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
        is_coroutine=True,
        dump_json=True,
    )
    status = (headers.status_code if headers is not None else None) or route.status_code or 200
    response = Response(content=content, media_type="application/json", status_code=status)
    if headers is not None:
        response.headers.raw.extend(headers.headers.raw)
    return response


def _uuids(params: dict[str, str]) -> dict[str, UUID] | None:
    try:
        return {name: _UUID.validate_python(value) for name, value in params.items()}
    except ValidationError:
        return None


def lanes_of(routes: list[BaseRoute], app_dependencies: list[Any]) -> list[Lane]:
    """The lanes of the forwarding routes among `routes` (every route of the application) that
    qualify and that no other route overlaps. None when the application depends on anything but
    the rate limit's charge (`app_dependencies`, FastAPI's `Depends` of the application), which
    is all a lane runs before the route's own dependencies."""
    if [getattr(d, "dependency", None) for d in app_dependencies] != [charge_route]:
        return []
    shapes = tuple(_shape(route) for route in routes)
    lanes = []
    for route in routes:
        lane = _lane(route)
        if lane is None:
            continue
        itself = frozenset(index for index, other in enumerate(routes) if other is route)
        if _alone(lane.route.path, lane.method, itself, shapes):
            lanes.append(lane)
    return lanes


_Shape = tuple[str, str, frozenset[str] | None]
"""What `_overlap` reads of a route: its kind, its path and its methods."""


def _shape(route: BaseRoute) -> _Shape:
    if isinstance(route, Mount):
        return ("mount", route.path, None)
    if isinstance(route, Route | APIRoute):
        methods = frozenset(route.methods) if route.methods is not None else None
        return ("route", route.path, methods)
    return ("unknown", "", None)


@functools.cache
def _alone(path: str, method: str, itself: frozenset[int], shapes: tuple[_Shape, ...]) -> bool:
    """Whether no route of `shapes` but `itself` (its indices) could match a `method` request
    for `path`.
    Cached: every gateway made in a process (one per test in the suite) asks it of the same
    routes, and the answer, every route against every other, cost about 20 ms of CPU."""
    return not any(
        index not in itself and _overlap(path, method, shape) for index, shape in enumerate(shapes)
    )


def _lane(route: BaseRoute) -> Lane | None:
    if not isinstance(route, APIRoute):
        return None
    forward: Forward | None = getattr(route.endpoint, "forward", None)
    if forward is None:
        return _plain(route)
    if route.methods == {"POST"}:
        return _write(route, forward)
    if (
        route.methods != {"GET"}
        or forward.permission is None
        or not forward.passes_reply_on
        or not route.path.startswith("/api/v1/orgs/{org_id}/")
    ):
        return None
    path_params = _path_params(route.path)
    if any(name in forward.params for name in path_params):
        return None  # a path parameter of another type than UUID, or with constraints
    query = tuple(name for name in forward.params if name not in path_params)
    if not all(_is_query(forward.params[name]) for name in query):
        return None
    dependency = get_args(_access(forward.permission))[1].dependency
    if [d.call for d in route.dependant.dependencies] != [dependency, gateway_state]:
        return None  # a dependency the lane would not run
    return Lane(route, dependency, ("org_id", *path_params), query)


def _write(route: APIRoute, forward: Forward) -> Lane | None:
    """A forwarding write: `POST` in the path's organisation with the caller's permission there,
    UUID path parameters, a JSON body of one model, no query, no header but the optional
    `Idempotency-Key` (given, it sends the request to FastAPI), and an answer that is the reply
    as it is or a model FastAPI would serialize with the default response class."""
    dependant = route.dependant
    if (
        forward.permission is None
        or forward.body is None
        or forward.paging is not None
        or forward.status_code == 204
        or not route.path.startswith("/api/v1/orgs/{org_id}/")
        or set(forward.params) - set(_path_params(route.path))
        or any(name in forward.params for name in _path_params(route.path))
        or len(dependant.body_params) != 1
        or dependant.query_params
        or dependant.cookie_params
        or [field.name for field in dependant.header_params]
        != (["idempotency_key"] if forward.idempotent else [])
        or not isinstance(route.response_class, DefaultPlaceholder)
        or (not forward.passes_reply_on and route.response_field is None)
    ):
        return None
    dependency = get_args(_access(forward.permission))[1].dependency
    if [d.call for d in dependant.dependencies] != [dependency, gateway_state]:
        return None  # a dependency the lane would not run
    return Lane(
        route,
        dependency,
        ("org_id", *_path_params(route.path)),
        (),
        serializes=not forward.passes_reply_on,
        method="POST",
        response_param="response" if forward.location is not None else None,
        idempotency_param="idempotency_key" if forward.idempotent else None,
    )


def _plain(route: APIRoute) -> Lane | None:
    """A hand-written plain read: `GET` in the path's organisation, UUID path parameters and
    nothing else to parse, the caller's permission there (the `require` dependency) and at most
    the gateway's state as dependencies, and a response model that FastAPI would serialize with
    the default response class and status."""
    dependant = route.dependant
    dependencies = dependant.dependencies
    if (
        route.methods != {"GET"}
        or not route.path.startswith("/api/v1/orgs/{org_id}")
        or route.response_field is None
        or not isinstance(route.response_class, DefaultPlaceholder)
        or route.status_code not in (None, 200)
        or not inspect.iscoroutinefunction(route.endpoint)
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.request_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or any(field.field_info.annotation is not UUID for field in dependant.path_params)
        or not dependencies
        or not getattr(dependencies[0].call, "asks_caller", False)
        or not hasattr(dependencies[0].call, "permission")
        or [d.call for d in dependencies[1:]] not in ([], [gateway_state])
    ):
        return None
    path_params = tuple(field.name for field in dependant.path_params)
    return Lane(
        route,
        dependencies[0].call,
        ("org_id", *(name for name in path_params if name != "org_id")),
        (),
        access_param=str(dependencies[0].name),
        state_param=str(dependencies[1].name) if len(dependencies) > 1 else None,
        serializes=True,
        passes_org_id="org_id" in path_params,
    )


def _is_query(annotation: Any) -> bool:
    """An optional query parameter (None when the request does not give it)."""
    from fastapi.params import Query

    if get_origin(annotation) is not Annotated or not _optional(annotation):
        return False
    return any(isinstance(meta, Query) for meta in get_args(annotation)[1:])


def _overlap(path: str, method: str, other: _Shape) -> bool:
    """Whether a route of shape `other` could match a `method` request for a path that `path`
    (a template) matches."""
    kind, other_path, methods = other
    if kind == "mount":
        return _segments_overlap(_segments(path), _segments(other_path), prefix=True)
    if kind != "route":
        return True  # unknown kinds of routes: assume they might
    if methods is not None and method not in methods:
        return False
    if ":path}" in other_path:  # its literal segments, then anything
        head = other_path[: other_path.index(":path}")].rsplit("/", 1)[0]
        return _segments_overlap(_segments(path), _segments(head), prefix=True)
    return _segments_overlap(_segments(path), _segments(other_path), prefix=False)


def _segments(path: str) -> list[str | None]:
    """A template's segments: a literal, or None for a segment with a parameter in it."""
    return [None if _SEGMENT_PARAM.search(part) else part for part in path.split("/")]


def _segments_overlap(ours: list[str | None], theirs: list[str | None], prefix: bool) -> bool:
    if len(theirs) > len(ours) or (not prefix and len(theirs) != len(ours)):
        return False
    return all(a is None or b is None or a == b for a, b in zip(ours, theirs, strict=False))
