"""Size limits: every string and list that can reach an event is bounded, and the bounds keep every
event under `MAX_EVENT_BYTES`. Plain unit tests over the contract registry."""

from __future__ import annotations

import types
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import uuid4

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from advocacy_shared.contracts import EVENT_TYPES
from advocacy_shared.contracts.base import EventData, RpcRequest
from advocacy_shared.contracts.limits import MAX_EVENT_BYTES
from advocacy_shared.envelope import CloudEvent

WORST_CHAR = "\x01"
"""The character that costs most in JSON (six bytes: `\\u0001`)."""


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subs: list[type] = cls.__subclasses__()
    for sub in subs:
        found += [sub, *_subclasses(sub)]
    return found


REQUESTS = sorted(
    {c for c in _subclasses(RpcRequest) if c.__module__.startswith("advocacy_shared.contracts")},
    key=lambda c: c.__name__,
)
"""The contracts' requests, not the ones other test modules declare (imported in a full run)."""


def _max_len(metadata: list[Any]) -> int | None:
    """The maximum length among a field's constraints (`Field`, `StringConstraints`)."""
    for item in metadata:
        if isinstance(item, FieldInfo):  # `Annotated[list[...], Field(max_length=...)]`
            found = _max_len(list(item.metadata))
            if found is not None:
                return found
        elif getattr(item, "max_length", None) is not None:
            return int(item.max_length)
    return None


def _unbounded(tp: Any, metadata: list[Any], path: str, seen: set[type]) -> list[str]:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return _unbounded(base, [*metadata, *extra], path, seen)
    if origin in (Union, types.UnionType):
        return [
            problem
            for arg in get_args(tp)
            if arg is not type(None)
            for problem in _unbounded(arg, metadata, path, seen)
        ]
    if origin is Literal:
        return []
    if tp is str:
        return [] if _max_len(metadata) is not None else [path]
    if origin in (list, set, frozenset, tuple, dict):
        keys = get_args(tp)[0] if origin is dict else None
        enumerable = origin is tuple or get_origin(keys) is Literal  # a fixed set of entries
        problems = [] if _max_len(metadata) is not None or enumerable else [path]
        for arg in get_args(tp):
            if arg is not Ellipsis:
                problems += _unbounded(arg, [], f"{path}[]", seen)
        return problems
    if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
        seen.add(tp)
        return [
            problem
            for name, info in tp.model_fields.items()
            for problem in _unbounded(info.annotation, list(info.metadata), f"{path}.{name}", seen)
        ]
    return []


@pytest.mark.parametrize(
    "model",
    [*EVENT_TYPES.values(), *REQUESTS],
    ids=lambda model: model.__name__,
)
def test_every_string_and_list_of_an_event_or_a_request_has_a_maximum(model: type) -> None:
    assert _unbounded(model, [], model.__name__, set()) == []


def _largest(tp: Any, metadata: list[Any]) -> Any:
    """The largest valid value of a field: every string and list at its maximum."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return _largest(base, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        return _largest(next(a for a in get_args(tp) if a is not type(None)), metadata)
    if origin is Literal:
        return max(get_args(tp), key=lambda option: len(str(option)))
    if tp is str:
        return WORST_CHAR * (_max_len(metadata) or 0)
    if origin in (list, set, frozenset):
        (item,) = get_args(tp)
        return [_largest(item, []) for _ in range(_max_len(metadata) or 0)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {
            name: _largest(info.annotation, list(info.metadata))
            for name, info in tp.model_fields.items()
        }
    if tp is bool:
        return False
    if tp in (int, float):
        upper = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
        return upper if upper is not None else tp(10**15)
    if tp is datetime:
        return datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    if tp is date:
        return date(2026, 12, 31)
    return uuid4()


@pytest.mark.parametrize("model", list(EVENT_TYPES.values()), ids=lambda model: model.__name__)
def test_the_largest_valid_event_fits_under_the_maximum_event_size(model: type[EventData]) -> None:
    data = model.model_validate(_largest(model, []))
    envelope = CloudEvent(
        source="/advocacy/" + "s" * 30,
        type=data.spec.type,
        subject=str(uuid4()),
        data=data.model_dump(mode="json"),
        orgid=str(uuid4()),
        correlationid=WORST_CHAR * 200,
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    assert len(envelope.to_bytes()) <= MAX_EVENT_BYTES
