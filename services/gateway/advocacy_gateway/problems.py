"""RFC 9457 problem details for every error the gateway answers, and the handlers that make them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from advocacy_gateway.scim.errors import (
    SCIM_JSON,
    ScimError,
    error_bytes,
    is_scim_path,
    scim_error_response,
)
from advocacy_shared.contracts.errors import (
    Conflict,
    Invalid,
    NatsUnavailable,
    NotFound,
    NotReady,
    RemoteInternalError,
    RpcError,
    RpcNoResponders,
    RpcTimeout,
)
from advocacy_shared.logs import correlation_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    correlation_id: str | None = None


def problem_type(slug: str) -> str:
    return f"urn:advocacy:problem:{slug}"


class ProblemError(Exception):
    """Raise from an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    request: Request,
    status: int,
    slug: str | None,
    detail: str | None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    problem = Problem(
        type=problem_type(slug) if slug else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        correlation_id=correlation_id_var.get(),
        **extensions,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_RPC_STATUS: list[tuple[type[RpcError], int, str]] = [
    (NotFound, 404, "not-found"),
    (Invalid, 422, "invalid"),
    (Conflict, 409, "conflict"),
    (NotReady, 503, "not-ready"),
    (NatsUnavailable, 503, "nats-unavailable"),
    (RpcNoResponders, 503, "service-unavailable"),
    (RpcTimeout, 504, "service-timeout"),
    (RemoteInternalError, 502, "service-error"),
]


def rpc_problem(request: Request, exc: RpcError) -> JSONResponse:
    for error_type, status, slug in _RPC_STATUS:
        if isinstance(exc, error_type):
            headers = {"Retry-After": "1"} if status == 503 else None
            extensions = {"context": exc.detail} if exc.detail else {}
            return problem_response(request, status, slug, exc.message, headers, **extensions)
    log.error("unmapped service error", extra={"error": type(exc).__name__})
    return problem_response(request, 502, "service-error", exc.message)


def rpc_scim_error(exc: RpcError) -> JSONResponse:
    """A service's typed error as a SCIM error: a taken userName is `uniqueness`, a stale
    If-Match a 412, invalid values `invalidValue`."""
    detail = exc.detail or {}
    if isinstance(exc, Conflict) and detail.get("precondition"):
        return scim_error_response(412, exc.message)
    if isinstance(exc, Conflict):
        scim_type = "uniqueness" if detail.get("attribute") else None
        return scim_error_response(409, exc.message, scim_type)
    if isinstance(exc, Invalid):
        return scim_error_response(400, exc.message, "invalidValue")
    for error_type, status, _slug in _RPC_STATUS:
        if isinstance(exc, error_type):
            headers = {"Retry-After": "1"} if status == 503 else None
            return scim_error_response(status, exc.message, headers=headers)
    return scim_error_response(502, exc.message)


def install_problem_handlers(app: FastAPI) -> None:
    """Problem details everywhere, except under /scim/v2, where errors take SCIM's own format."""

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        if is_scim_path(request.url.path):
            return scim_error_response(exc.status, exc.detail, headers=exc.headers)
        return problem_response(
            request, exc.status, exc.slug, exc.detail, exc.headers, **exc.extensions
        )

    @app.exception_handler(ScimError)
    async def on_scim_error(request: Request, exc: ScimError) -> JSONResponse:
        return scim_error_response(exc.status, exc.detail, exc.scim_type, exc.headers)

    @app.exception_handler(RpcError)
    async def on_rpc_error(request: Request, exc: RpcError) -> JSONResponse:
        if is_scim_path(request.url.path):
            return rpc_scim_error(exc)
        return rpc_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if is_scim_path(request.url.path):
            return _scim_validation_error(exc)
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
            for err in exc.errors()
        ]
        if any(err["type"] == "json_invalid" for err in errors):
            return problem_response(
                request, 400, "malformed-json", "the request body is not valid JSON"
            )
        return problem_response(
            request, 422, "validation", "the request does not match the schema", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if is_scim_path(request.url.path):
            return scim_error_response(exc.status_code, str(exc.detail), headers=exc.headers)
        return problem_response(request, exc.status_code, None, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"path": request.url.path})
        if is_scim_path(request.url.path):
            return scim_error_response(500, "an unexpected error occurred")
        return problem_response(request, 500, "internal", "an unexpected error occurred")


def _scim_validation_error(exc: RequestValidationError) -> JSONResponse:
    """Bodies and parameters FastAPI refuses, in SCIM's terms (field paths, never values)."""
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return scim_error_response(400, "the request body is not valid JSON", "invalidSyntax")
    where = ", ".join(".".join(str(part) for part in err.get("loc", ())) for err in errors)
    return scim_error_response(400, f"the request is malformed at {where}", "invalidSyntax")


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    slug: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with a problem from ASGI middleware, where no FastAPI handler runs (under /scim/v2,
    with a SCIM error)."""
    if is_scim_path(scope.get("path", "")):
        body = error_bytes(status, detail)
        content_type = SCIM_JSON
    else:
        body = _problem_bytes(scope, status, slug, detail)
        content_type = PROBLEM_JSON
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _problem_bytes(scope: Scope, status: int, slug: str, detail: str) -> bytes:
    return json.dumps(
        {
            "type": problem_type(slug),
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "instance": scope.get("path"),
            "correlation_id": correlation_id_var.get(),
        }
    ).encode()
