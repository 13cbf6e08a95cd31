"""SCIM's own error format (RFC 7644 §3.12): every error under `/scim/v2` is one of these."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

SCIM_PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def is_scim_path(path: str) -> bool:
    return path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/")


class ScimError(Exception):
    """Raise from a SCIM endpoint: answered as a SCIM error, with `scimType` when there is one."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}


def error_body(status: int, detail: str | None, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if scim_type is not None:
        body["scimType"] = scim_type
    if detail:
        body["detail"] = detail
    return body


def scim_error_response(
    status: int,
    detail: str | None,
    scim_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, detail, scim_type),
        status_code=status,
        media_type=SCIM_JSON,
        headers=headers,
    )


def error_bytes(status: int, detail: str) -> bytes:
    """The same body for ASGI middleware, where no response class runs."""
    return json.dumps(error_body(status, detail)).encode()
