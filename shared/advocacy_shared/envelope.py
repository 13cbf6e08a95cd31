"""The CloudEvents 1.0 envelope (structured JSON mode) every event travels in."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with the platform's extension attributes.

    Extension names follow the specification (lower-case letters and digits only):
    `orgid` (the organisation the fact belongs to), `correlationid` (the request or message that
    caused it) and `traceparent` (W3C trace context).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id, min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime = Field(default_factory=utc_now)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    orgid: str = Field(min_length=1)
    correlationid: str = Field(min_length=1)
    traceparent: str | None = Field(default=None, pattern=_TRACEPARENT.pattern)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, payload: bytes) -> CloudEvent:
        return cls.model_validate_json(payload)
