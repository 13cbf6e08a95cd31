"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a resource is
returned with, on GET of one resource, of a list and on `POST /.search`.

A path names an attribute (`userName`), a sub-attribute (`name.givenName`, `emails.value`), a
whole extension (its URN) or an extension's attribute (`URN:department`); names and URNs are
case-insensitive, and the core schema's URN may prefix a core attribute. `id` and `schemas` are
always returned (their `returned` is `always`); an unknown path is ignored, as RFC 7644 lets a
service provider do.
"""

from __future__ import annotations

from typing import Any

from advocacy_gateway.scim.errors import ScimError

ALWAYS = ("schemas", "id")
MAX_PATHS = 50


def paths_of(value: str | list[str] | None) -> list[str] | None:
    """A comma-separated parameter (or the list a SearchRequest carries) as attribute paths."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ScimError(400, "attributes must be a list of attribute paths", "invalidValue")
    paths = [item.strip() for item in items if item.strip()]
    if len(paths) > MAX_PATHS:
        raise ScimError(400, f"at most {MAX_PATHS} attribute paths", "invalidValue")
    return paths or None


def project(
    resource: dict[str, Any],
    core_schema: str,
    attributes: list[str] | None,
    excluded: list[str] | None,
) -> dict[str, Any]:
    """The resource with only the `attributes` asked for, or without the `excluded` ones.
    `attributes` wins when both are given (RFC 7644: they are mutually exclusive)."""
    if attributes:
        kept: dict[str, Any] = {key: resource[key] for key in ALWAYS if key in resource}
        for path in attributes:
            _copy(resource, kept, _keys(path, resource, core_schema))
        return _with_schemas(kept, resource)
    if excluded:
        left = {
            key: (dict(value) if isinstance(value, dict) else value)
            for key, value in resource.items()
        }
        for path in excluded:
            _drop(left, _keys(path, resource, core_schema))
        return _with_schemas(left, resource)
    return resource


def _keys(path: str, resource: dict[str, Any], core_schema: str) -> list[str]:
    """The keys a path names in the resource, as the resource spells them (case-insensitive)."""
    lowered = path.lower()
    if lowered.startswith(core_schema.lower() + ":"):
        lowered = lowered[len(core_schema) + 1 :]
    for key in resource:
        if key.startswith("urn:") and lowered.startswith(key.lower()):
            rest = lowered[len(key) :].lstrip(":")
            inner = resource[key] if isinstance(resource[key], dict) else {}
            return [key, *_spelled(rest.split(".") if rest else [], inner)]
    return _spelled(lowered.split("."), resource)


def _spelled(parts: list[str], where: dict[str, Any]) -> list[str]:
    spelled: list[str] = []
    for part in parts:
        match = next((key for key in where if key.lower() == part), part)
        spelled.append(match)
        inner = where.get(match)
        if isinstance(inner, list):
            inner = next((item for item in inner if isinstance(item, dict)), {})
        where = inner if isinstance(inner, dict) else {}
    return spelled


def _copy(source: dict[str, Any], target: dict[str, Any], keys: list[str]) -> None:
    if not keys or keys[0] not in source:
        return
    head, rest = keys[0], keys[1:]
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, dict):
        inner = target.setdefault(head, {})
        if isinstance(inner, dict):
            _copy(value, inner, rest)
    elif isinstance(value, list):
        existing = target.get(head)
        items = existing if isinstance(existing, list) else [{} for _ in value]
        for item, kept in zip(value, items, strict=True):
            if isinstance(item, dict) and isinstance(kept, dict):
                _copy(item, kept, rest)
        target[head] = [item for item in items if item]


def _drop(resource: dict[str, Any], keys: list[str]) -> None:
    if not keys or keys[0] not in resource or keys[0] in ALWAYS:
        return
    head, rest = keys[0], keys[1:]
    if not rest:
        del resource[head]
        return
    value = resource[head]
    if isinstance(value, dict):
        value = dict(value)
        _drop(value, rest)
        resource[head] = value
    elif isinstance(value, list):
        resource[head] = [
            {k: v for k, v in item.items() if k != rest[0]} if isinstance(item, dict) else item
            for item in value
        ]


def _with_schemas(projected: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """`schemas` names the core schema and the extensions the projected resource still has."""
    schemas = [
        urn
        for urn in resource.get("schemas", [])
        if not urn.lower().startswith("urn:") or urn in projected or urn == resource["schemas"][0]
    ]
    return {**projected, "schemas": schemas} if "schemas" in projected else projected
