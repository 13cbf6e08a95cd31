"""SCIM Group resources (RFC 7643 §4.2) ↔ the roster's groups, and PATCH operations on them as
Entra ID and Okta send them (RFC 7644 §3.5.2).

A group's members are Users of the same organisation (`value` is the User's id; `$ref` and
`type` are given back, `display` is not kept). Nested groups are not supported: a member of
`type` "Group" is `invalidValue`.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from advocacy_gateway.scim.errors import SCIM_PREFIX, ScimError
from advocacy_gateway.scim.users import PATCH_SCHEMA, etag
from advocacy_shared.contracts.roster import MAX_GROUP_MEMBERS, Group, GroupChange, GroupFields

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

# Filterable group attributes (lowercased path → the roster's name).
GROUP_FILTER_PATHS: dict[str, str] = {
    "id": "id",
    "displayname": "display_name",
    "externalid": "external_id",
    "members": "members",
    "members.value": "members",
}
# `members[value eq "…"]` in a filter: one member's sub-attributes.
GROUP_VALUE_PATHS: dict[str, dict[str, str]] = {
    "members": {"value": "members", "display": "member_display", "type": "member_type"},
}
# `members[value eq "…"]`, as Entra ID names the member to remove.
_MEMBER_PATH = re.compile(r'^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$', re.IGNORECASE)


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def fields_of(body: Any) -> GroupFields:
    """A full Group (POST, PUT) as the roster's group fields."""
    if not isinstance(body, dict):
        raise invalid("the body must be a SCIM Group object", "invalidSyntax")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or GROUP_SCHEMA.lower() not in {
        str(s).lower() for s in schemas
    }:
        raise invalid(f"schemas must include {GROUP_SCHEMA}", "invalidSyntax")
    values = {key.lower(): value for key, value in body.items()}
    name = values.get("displayname")
    if not isinstance(name, str) or not name.strip():
        raise invalid("displayName is required and must be a string")
    external_id = values.get("externalid")
    if external_id is not None and not isinstance(external_id, str):
        raise invalid("externalId must be a string")
    members = member_ids(values.get("members"))
    try:
        return GroupFields(display_name=name, external_id=external_id, members=members)
    except ValueError as exc:
        raise invalid(
            f"displayName and externalId take at most 200 characters; at most "
            f"{MAX_GROUP_MEMBERS} members"
        ) from exc


def member_ids(value: Any) -> list[UUID]:
    """Members (`[{"value": id}, ...]`) as User ids; none is no members."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise invalid("members must be a list of objects with a value")
    if len(value) > MAX_GROUP_MEMBERS:
        raise invalid(f"a group has at most {MAX_GROUP_MEMBERS} members")
    ids: list[UUID] = []
    for member in value:
        lowered = {key.lower(): inner for key, inner in member.items()}
        if str(lowered.get("type", "User")).lower() != "user":
            raise invalid("members are Users: nested groups are not supported")
        ids.append(_user_id(lowered.get("value")))
    return ids


def _user_id(value: Any) -> UUID:
    if not isinstance(value, str):
        raise invalid("a member's value must be the id of a User")
    try:
        return UUID(value)
    except ValueError as exc:
        raise invalid(f"no User {value} in this organisation") from exc


def changes_of(body: Any) -> list[GroupChange]:
    """A PatchOp message as group changes. Understood, as identity providers send them:
    `add` members (a list of `{"value": id}`), `remove` with path `members[value eq "id"]`
    or with path `members` and the members as value (or none: all of them), `replace` of
    members, displayName or externalId with a path, or with an object of attributes and no path
    (an `id` in it naming the group itself is ignored, as Okta sends it)."""
    if not isinstance(body, dict):
        raise invalid("the body must be a PatchOp message", "invalidSyntax")
    if PATCH_SCHEMA.lower() not in {str(s).lower() for s in body.get("schemas") or []}:
        raise invalid(f"schemas must be [{PATCH_SCHEMA!r}]", "invalidSyntax")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid("Operations must be a non-empty list", "invalidSyntax")
    changes: list[GroupChange] = []
    for operation in operations:
        changes += _operation_changes(operation)
    if not changes:
        raise invalid("the operations change nothing", "noTarget")
    if len(changes) > 100:
        raise invalid("at most 100 changes in one PATCH")
    return changes


def _operation_changes(operation: Any) -> list[GroupChange]:
    if not isinstance(operation, dict):
        raise invalid("each operation must be an object", "invalidSyntax")
    lowered = {str(key).lower(): value for key, value in operation.items()}
    op = str(lowered.get("op", "")).lower()
    if op not in {"add", "replace", "remove"}:
        raise invalid(f"unknown op {lowered.get('op')!r}", "invalidSyntax")
    path, value = lowered.get("path"), lowered.get("value")
    if path is None:
        if op == "remove":
            raise invalid("remove needs a path", "noTarget")
        if not isinstance(value, dict):
            raise invalid("without a path, value must be an object of attributes")
        changes: list[GroupChange] = []
        for key, inner in value.items():
            if key.lower() == "id":
                continue  # Okta repeats the group's own id
            changes += _path_changes(op, key, inner)
        return changes
    if not isinstance(path, str):
        raise invalid("path must be a string", "invalidPath")
    return _path_changes(op, path, value)


def _path_changes(op: str, path: str, value: Any) -> list[GroupChange]:
    lowered = path.strip().lower()
    if lowered.startswith(GROUP_SCHEMA.lower() + ":"):
        lowered = lowered[len(GROUP_SCHEMA) + 1 :]
    if match := _MEMBER_PATH.match(lowered):
        if op != "remove":
            raise invalid("a member filter path takes remove only", "invalidPath")
        return [_members("remove", [_user_id(match.group(1))])]
    if lowered in {"members", "members.value"}:
        if op == "remove":
            given = member_ids(value) if value is not None else None
            return [_members("remove", given)]
        return [_members("add" if op == "add" else "set", member_ids(value))]
    attribute = {"displayname": "display_name", "externalid": "external_id"}.get(lowered)
    if attribute is None:
        if lowered.split(".")[0] in {"id", "meta", "schemas"}:
            raise invalid(f"{path} cannot be changed", "mutability")
        raise invalid(f"unknown attribute path {path!r}", "invalidPath")
    if op == "remove" or value is None:
        if attribute == "display_name":
            raise invalid("displayName cannot be removed", "mutability")
        return [GroupChange(op="remove", attribute="external_id")]
    if not isinstance(value, str):
        raise invalid(f"{path} must be a string")
    if len(value) > 200 or (attribute == "display_name" and not value.strip()):
        raise invalid(f"{path} takes 1 to 200 characters")
    return [GroupChange(op="set", attribute=attribute, value=value)]


def _members(op: str, ids: list[UUID] | None) -> GroupChange:
    if ids is not None and len(ids) > 1000:
        raise invalid("at most 1000 members in one operation: send larger changes in pages")
    return GroupChange(op=op, attribute="members", value=ids)


def group_of(group: Group, base_url: str) -> dict[str, Any]:
    users = f"{base_url}{SCIM_PREFIX}/Users"
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.id),
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": f"{base_url}{SCIM_PREFIX}/Groups/{group.id}",
            "version": etag(group.version),
        },
    }
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    if group.members:
        resource["members"] = [
            {"value": str(m.employee_id), "$ref": f"{users}/{m.employee_id}", "type": "User"}
            for m in group.members
        ]
    return resource
