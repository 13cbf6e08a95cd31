"""Typed errors of request-reply: what a service answers instead of a reply; what callers raise."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"
    NOT_READY = "not_ready"
    INTERNAL = "internal"


class RpcErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ErrorCode
    message: str
    detail: dict[str, Any] | None = None


class RpcError(Exception):
    """Base of every failure of a request: raised by callers, mapped to problem details."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def body(self) -> RpcErrorBody:
        return RpcErrorBody(code=self.code, message=self.message, detail=self.detail)


class NotFound(RpcError):
    code = ErrorCode.NOT_FOUND


class Invalid(RpcError):
    code = ErrorCode.INVALID


class Conflict(RpcError):
    code = ErrorCode.CONFLICT


class NotReady(RpcError):
    """The owning service has not caught up yet (for example a tenant whose event is in flight)."""

    code = ErrorCode.NOT_READY


class RemoteInternalError(RpcError):
    code = ErrorCode.INTERNAL


class RpcTimeout(RpcError):
    """No reply within the timeout: the service is down, overloaded or stuck."""


class RpcNoResponders(RpcError):
    """Nobody subscribes to the subject: the service is not running."""


class NatsUnavailable(RpcError):
    """The caller is not connected to NATS (the server is down, or being reconnected to): no
    request can reach any service, whichever it is."""


ERRORS_BY_CODE: dict[ErrorCode, type[RpcError]] = {
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.INVALID: Invalid,
    ErrorCode.CONFLICT: Conflict,
    ErrorCode.NOT_READY: NotReady,
    ErrorCode.INTERNAL: RemoteInternalError,
}
