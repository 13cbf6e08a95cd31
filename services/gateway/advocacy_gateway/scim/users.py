"""SCIM User resources ↔ the roster's typed attributes, and PATCH operations ↔ attribute changes.

Attribute names and schema URNs are case-insensitive in SCIM (RFC 7643 §2.1), so every lookup
lowercases first. The primary (else the work, else the first) email is the one kept.
"""

from __future__ import annotations

from typing import Any, cast

from advocacy_gateway.scim.errors import SCIM_PREFIX, ScimError
from advocacy_shared.contracts.roster import (
    LIST_ATTRIBUTES,
    AttributeChange,
    Employee,
    EmployeeAttributes,
    FilterAttribute,
    RosterAttribute,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADVOCACY_SCHEMA = "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

_ENTERPRISE = ENTERPRISE_SCHEMA.lower()
_ADVOCACY = ADVOCACY_SCHEMA.lower()

# Every attribute path (lowercased) that names one roster attribute.
PATHS: dict[str, RosterAttribute] = {
    "username": "user_name",
    "externalid": "external_id",
    "active": "active",
    "name.givenname": "given_name",
    "name.familyname": "family_name",
    "name.formatted": "formatted_name",
    "displayname": "display_name",
    "title": "title",
    "emails": "email",
    "emails.value": "email",
    f"{_ENTERPRISE}:employeenumber": "employee_number",
    f"{_ENTERPRISE}:department": "department",
    f"{_ENTERPRISE}:manager": "manager_id",
    f"{_ENTERPRISE}:manager.value": "manager_id",
    f"{_ADVOCACY}:jobfamily": "job_family",
    f"{_ADVOCACY}:hardtorecruit": "hard_to_recruit",
    f"{_ADVOCACY}:leadership": "leadership",
    f"{_ADVOCACY}:languages": "languages",
    f"{_ADVOCACY}:topics": "topics",
}
# Extension attributes may also be named without their URN (`department`), as many clients do.
FILTER_PATHS: dict[str, FilterAttribute] = {
    **PATHS,
    **{path.rsplit(":", 1)[1]: attr for path, attr in PATHS.items() if path.startswith("urn:")},
    "id": "id",
    "groups": "group_id",
    "groups.value": "group_id",
    "groups.display": "group_name",
}
# Multi-valued attributes a filter may bracket (`emails[type eq "work"]`), with the sub-attributes
# of one element (RFC 7644 §3.4.2.2 valuePath).
VALUE_PATHS: dict[str, dict[str, FilterAttribute]] = {
    "emails": {"value": "email", "type": "email_type", "primary": "email_primary"},
    "groups": {"value": "group_id", "display": "group_name", "type": "group_type"},
}
# Paths whose value is a complex attribute, expanded into its sub-attributes.
COMPLEX = {"name": "name", "emails": "emails", _ENTERPRISE: "enterprise", _ADVOCACY: "advocacy"}
READ_ONLY = frozenset({"id", "meta", "schemas", "groups"})
BOOLEANS = frozenset({"active", "hard_to_recruit", "leadership"})


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


# SCIM → roster


def attributes_of(user: Any) -> EmployeeAttributes:
    """A full User (POST, PUT) as roster attributes; anything malformed is `invalidValue`."""
    if not isinstance(user, dict):
        raise invalid("the body must be a SCIM User object", "invalidSyntax")
    schemas = user.get("schemas")
    if not isinstance(schemas, list) or USER_SCHEMA.lower() not in {
        str(s).lower() for s in schemas
    }:
        raise invalid(f"schemas must include {USER_SCHEMA}", "invalidSyntax")
    values: dict[str, Any] = {}
    for key, value in user.items():
        values.update(_flatten(key.lower(), value))
    if not isinstance(values.get("user_name"), str) or not values["user_name"].strip():
        raise invalid("userName is required")
    return _validated({k: typed(k, _coerce(k, v, lists=False)) for k, v in values.items()})


def typed(attribute: str, value: Any) -> Any:
    """A value of the attribute's SCIM type, else `invalidValue` (RFC 7644 §3.12): booleans are
    booleans, lists lists of strings, the rest strings; none (null) clears an attribute."""
    if value is None:
        return value
    if attribute in BOOLEANS:
        ok = isinstance(value, bool)
        kind = "a boolean"
    elif attribute in LIST_ATTRIBUTES:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        kind = "a list of strings"
    else:
        ok = isinstance(value, str)
        kind = "a string"
    if not ok:
        raise invalid(f"{_scim_name(attribute)} must be {kind}, not {type(value).__name__}")
    return value


def _flatten(path: str, value: Any) -> dict[str, Any]:
    """One attribute path and its value as roster attributes (complex values expanded)."""
    if path in READ_ONLY:
        return {}
    if path in PATHS and path not in {"emails", f"{_ENTERPRISE}:manager"}:
        return {PATHS[path]: value}
    kind = COMPLEX.get(path)
    if path == "emails" or kind == "emails":
        return {"email": _primary_email(value)}
    if path == f"{_ENTERPRISE}:manager":
        return {"manager_id": _manager(value)}
    if kind is not None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(f"{path} must be an object")
        flat: dict[str, Any] = {}
        separator = "." if kind == "name" else ":"
        for key, inner in value.items():
            flat.update(_flatten(f"{path}{separator}{key.lower()}", inner))
        return flat
    return {}  # attributes we do not keep (phoneNumbers, addresses, ...) are ignored


def _primary_email(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise invalid("emails must be a list of objects with a value")
    if not value:
        return None
    chosen = (
        next((e for e in value if e.get("primary") is True), None)
        or next((e for e in value if str(e.get("type", "")).lower() == "work"), None)
        or value[0]
    )
    email = chosen.get("value")
    if not isinstance(email, str):
        raise invalid("an email has no value")
    return email


def _manager(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("value")
    return value


def _coerce(attribute: str, value: Any, lists: bool = True) -> Any:
    """Loose values some clients send (Entra ID sends "False" for active) as their type; in a
    PATCH (`lists`), one value for a list attribute as a list of it."""
    if attribute in BOOLEANS and isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if lists and attribute in LIST_ATTRIBUTES and isinstance(value, str):
        return [value]
    return value


def _validated(values: dict[str, Any]) -> EmployeeAttributes:
    try:
        return EmployeeAttributes.model_validate(values)
    except ValueError as exc:
        raise invalid(f"invalid attribute values: {_fields_of(exc)}") from exc


def _fields_of(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if errors is None:
        return "unknown"
    names = sorted({_scim_name(str(e["loc"][0])) for e in errors() if e.get("loc")})
    return ", ".join(names)


def _scim_name(attribute: str) -> str:
    for path, name in PATHS.items():
        if name == attribute:
            return path.rsplit(":", 1)[-1]
    return attribute


# PATCH → roster changes


def changes_of(body: Any) -> list[AttributeChange]:
    """A PatchOp message (RFC 7644 §3.5.2) as roster changes: `add`, `replace`, `remove`, with a
    path or (add, replace) with an object of attributes, as Entra ID sends them."""
    if not isinstance(body, dict):
        raise invalid("the body must be a PatchOp message", "invalidSyntax")
    if PATCH_SCHEMA.lower() not in {str(s).lower() for s in body.get("schemas") or []}:
        raise invalid(f"schemas must be [{PATCH_SCHEMA!r}]", "invalidSyntax")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid("Operations must be a non-empty list", "invalidSyntax")
    changes: list[AttributeChange] = []
    for operation in operations:
        changes += _operation_changes(operation)
    if not changes:
        raise invalid("the operations change nothing this service keeps", "noTarget")
    return changes


def _operation_changes(operation: Any) -> list[AttributeChange]:
    if not isinstance(operation, dict):
        raise invalid("each operation must be an object", "invalidSyntax")
    op = str(operation.get("op", "")).lower()
    if op not in {"add", "replace", "remove"}:
        raise invalid(f"unknown op {operation.get('op')!r}", "invalidSyntax")
    path = operation.get("path")
    value = operation.get("value")
    if path is None:
        if op == "remove":
            raise invalid("remove needs a path", "noTarget")
        if not isinstance(value, dict):
            raise invalid("without a path, value must be an object of attributes")
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten_path(key, inner))
    else:
        if not isinstance(path, str):
            raise invalid("path must be a string", "invalidPath")
        flat = _flatten_path(path, None if op == "remove" else value)
    return [_change(op, attribute, inner) for attribute, inner in flat.items()]


def _flatten_path(path: str, value: Any) -> dict[str, Any]:
    lowered = path.strip().lower()
    if lowered.split(".")[0] in READ_ONLY:
        raise invalid(f"{path} cannot be changed", "mutability")
    if lowered.startswith("emails[") and lowered.endswith(("].value", "]")):
        return {"email": value if not isinstance(value, list) else _primary_email(value)}
    if lowered in PATHS or lowered in COMPLEX:
        return _flatten(lowered, value) if value is not None else _cleared(lowered)
    raise invalid(f"unknown attribute path {path!r}", "invalidPath")


def _cleared(path: str) -> dict[str, Any]:
    """The attributes a `remove` of a path clears (a complex path clears all its parts)."""
    if path in PATHS:
        return {PATHS[path]: None}
    prefix = {"name": "name.", "emails": "emails"}.get(COMPLEX[path], path + ":")
    return {attr: None for p, attr in PATHS.items() if p.startswith(prefix)}


def _change(op: str, attribute: str, value: Any) -> AttributeChange:
    if op == "remove" or value is None:
        if attribute == "user_name":
            raise invalid("userName cannot be removed", "mutability")
        return AttributeChange(op="remove", attribute=cast(RosterAttribute, attribute))
    value = typed(attribute, _coerce(attribute, value))
    kind = "add" if op == "add" and attribute in LIST_ATTRIBUTES else "set"
    try:
        return AttributeChange(op=kind, attribute=cast(RosterAttribute, attribute), value=value)
    except ValueError as exc:
        raise invalid(f"invalid value for {_scim_name(attribute)}") from exc


# roster → SCIM


def user_of(employee: Employee, base_url: str) -> dict[str, Any]:
    """The User as SCIM shows it: unassigned attributes (none, empty lists) are left out, and so
    is an extension with nothing in it; `schemas` names the extensions present."""
    a = employee.attributes
    user: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(employee.id),
        "userName": a.user_name,
        "meta": {
            "resourceType": "User",
            "created": employee.created_at.isoformat(),
            "lastModified": employee.updated_at.isoformat(),
            "location": f"{base_url}{SCIM_PREFIX}/Users/{employee.id}",
            "version": etag(employee.version),
        },
    }
    optional = {
        "externalId": a.external_id,
        "active": a.active,
        "displayName": a.display_name,
        "title": a.title,
        "name": _without_none(
            {"givenName": a.given_name, "familyName": a.family_name, "formatted": a.formatted_name}
        ),
        "emails": [{"value": a.email, "type": "work"}] if a.email else None,
        "groups": [
            {
                "value": str(g.group_id),
                "$ref": f"{base_url}{SCIM_PREFIX}/Groups/{g.group_id}",
                "display": g.display_name,
                "type": "direct",
            }
            for g in employee.groups
        ]
        or None,
    }
    user.update({k: v for k, v in optional.items() if v is not None and v != {}})
    extensions = {
        ENTERPRISE_SCHEMA: _without_none(
            {
                "employeeNumber": a.employee_number,
                "department": a.department,
                "manager": {"value": a.manager_id} if a.manager_id else None,
            }
        ),
        ADVOCACY_SCHEMA: _without_none(
            {
                "jobFamily": a.job_family,
                "hardToRecruit": a.hard_to_recruit,
                "leadership": a.leadership,
                "languages": list(a.languages) or None,
                "topics": list(a.topics) or None,
            }
        ),
    }
    for urn, values in extensions.items():
        if values:
            user["schemas"].append(urn)
            user[urn] = values
    return user


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def etag(version: int) -> str:
    return f'W/"{version}"'


def version_of(if_match: str | None) -> int | None:
    """The version an If-Match names (`W/"3"` or `"3"`); `*` and none mean any version."""
    if if_match is None or if_match.strip() == "*":
        return None
    digits = if_match.strip().removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise ScimError(412, "If-Match does not name a version of this resource")
    return int(digits)
