"""The discovery documents (RFC 7644 §4, RFC 7643 §5-7): what this service provider supports,
the schemas of a User (core, enterprise extension, ours) and the one resource type."""

from __future__ import annotations

from typing import Any

from advocacy_gateway.scim.errors import SCIM_PREFIX
from advocacy_gateway.scim.groups import GROUP_SCHEMA
from advocacy_gateway.scim.users import ADVOCACY_SCHEMA, ENTERPRISE_SCHEMA, USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 500


def _attribute(
    name: str,
    kind: str = "string",
    *,
    required: bool = False,
    multi: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    returned: str = "default",
    sub: list[dict[str, Any]] | None = None,
    canonical: list[str] | None = None,
    description: str = "",
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if kind in {"string", "reference"}:
        attribute["caseExact"] = case_exact
    if sub is not None:
        attribute["subAttributes"] = sub
    if canonical is not None:
        attribute["canonicalValues"] = canonical
    return attribute


LANGUAGES = ["en", "da", "de", "sv", "nb", "fi", "fr", "nl", "es", "it", "pl", "en-GB", "en-US"]
"""Examples of the BCP 47 tags `languages` takes (any tag of at most 35 characters is kept)."""


def _user_attributes() -> list[dict[str, Any]]:
    return [
        _attribute(
            "userName",
            required=True,
            uniqueness="server",
            description="Unique per organisation, case-insensitive",
        ),
        _attribute(
            "name",
            "complex",
            sub=[_attribute("givenName"), _attribute("familyName"), _attribute("formatted")],
        ),
        _attribute("displayName"),
        _attribute("title"),
        _attribute("active", "boolean", description="false offboards the linked ambassador"),
        _attribute(
            "emails",
            "complex",
            multi=True,
            sub=[
                _attribute("value"),
                _attribute("type", canonical=["work"], description="Always work"),
            ],
            description="One email is kept: the primary one (else the work one, else the first) "
            "sent, as the work email; `primary` is accepted, to choose it",
        ),
        _attribute(
            "groups",
            "complex",
            multi=True,
            mutability="readOnly",
            sub=[
                _attribute("value", mutability="readOnly", description="The group's id"),
                {
                    **_attribute("$ref", "reference", mutability="readOnly"),
                    "referenceTypes": ["Group"],
                },
                _attribute("display", mutability="readOnly", description="The group's name"),
                _attribute(
                    "type", mutability="readOnly", canonical=["direct"], description="Always direct"
                ),
            ],
            description="The groups the User is in (change them through /Groups)",
        ),
    ]


def _enterprise_attributes() -> list[dict[str, Any]]:
    return [
        _attribute("employeeNumber"),
        _attribute("department"),
        _attribute("manager", "complex", sub=[_attribute("value", description="The manager's id")]),
    ]


def _advocacy_attributes() -> list[dict[str, Any]]:
    return [
        _attribute("jobFamily"),
        _attribute("hardToRecruit", "boolean"),
        _attribute("leadership", "boolean", description="On the leadership track"),
        _attribute(
            "languages",
            multi=True,
            canonical=LANGUAGES,
            description="Languages the employee posts in: BCP 47 tags of at most 35 characters",
        ),
        _attribute("topics", multi=True, description="Topics of expertise"),
    ]


def _group_attributes() -> list[dict[str, Any]]:
    member = [
        _attribute("value", mutability="immutable", description="The member's User id"),
        {
            **_attribute("$ref", "reference", mutability="immutable"),
            "referenceTypes": ["User"],
        },
        _attribute("type", mutability="immutable", canonical=["User"], description="Always User"),
    ]
    return [
        _attribute(
            "displayName",
            required=True,
            uniqueness="server",
            description="The group's name, unique per organisation without regard to case",
        ),
        _attribute(
            "members",
            "complex",
            multi=True,
            sub=member,
            description="Employees (Users) of the group; nested groups are not supported",
        ),
    ]


SCHEMAS: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    USER_SCHEMA: ("User", "User Account", _user_attributes()),
    ENTERPRISE_SCHEMA: ("EnterpriseUser", "Enterprise User", _enterprise_attributes()),
    ADVOCACY_SCHEMA: (
        "AdvocacyUser",
        "What the advocacy program plans with",
        _advocacy_attributes(),
    ),
    GROUP_SCHEMA: ("Group", "A group of employees (a segment of the roster)", _group_attributes()),
}


def schema_document(schema_id: str, base_url: str) -> dict[str, Any]:
    name, description, attributes = SCHEMAS[schema_id]
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema_id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": f"{base_url}{SCIM_PREFIX}/Schemas/{schema_id}",
        },
    }


RESOURCE_TYPES: dict[str, dict[str, Any]] = {
    "User": {
        "endpoint": "/Users",
        "description": "An employee on the HR roster",
        "schema": USER_SCHEMA,
        "schemaExtensions": [
            {"schema": ENTERPRISE_SCHEMA, "required": False},
            {"schema": ADVOCACY_SCHEMA, "required": False},
        ],
    },
    "Group": {
        "endpoint": "/Groups",
        "description": "A group of employees: a segment recruitment can target",
        "schema": GROUP_SCHEMA,
        "schemaExtensions": [],
    },
}


def resource_type_document(base_url: str, name: str = "User") -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        **RESOURCE_TYPES[name],
        "meta": {
            "resourceType": "ResourceType",
            "location": f"{base_url}{SCIM_PREFIX}/ResourceTypes/{name}",
        },
    }


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "API key",
                "description": "An organisation's API key with the hr scope, as a bearer token",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}{SCIM_PREFIX}/ServiceProviderConfig",
        },
    }


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
