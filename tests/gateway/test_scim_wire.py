"""The SCIM wire format without a platform: filters parsed into the roster's typed filter, PATCH
operations into attribute changes, Users into attributes. The round trips are in
tests/e2e/test_scim.py."""

from __future__ import annotations

from typing import Any

import pytest

from advocacy_gateway.scim.errors import ScimError
from advocacy_gateway.scim.filter import parse_filter
from advocacy_gateway.scim.groups import GROUP_FILTER_PATHS, GROUP_VALUE_PATHS
from advocacy_gateway.scim.users import ENTERPRISE_SCHEMA, USER_SCHEMA, attributes_of, changes_of
from advocacy_shared.contracts.roster import (
    AttributeChange,
    Comparison,
    Logical,
    Negation,
    ValuePath,
)

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_and_binds_tighter_than_or_and_names_are_case_insensitive() -> None:
    parsed = parse_filter('USERNAME Eq "a" or active eq true AND not (externalId pr)')
    assert parsed == Logical(
        operator="or",
        operands=[
            Comparison(attribute="user_name", operator="eq", value="a"),
            Logical(
                operator="and",
                operands=[
                    Comparison(attribute="active", operator="eq", value=True),
                    Negation(operand=Comparison(attribute="external_id", operator="pr")),
                ],
            ),
        ],
    )


def test_extension_attributes_are_filtered_by_urn_or_bare_name() -> None:
    expected = Comparison(attribute="department", operator="eq", value="R&D")
    assert parse_filter(f'{ENTERPRISE_SCHEMA}:department eq "R&D"') == expected
    assert parse_filter('department eq "R&D"') == expected
    assert parse_filter(r'emails.value eq "a\"b@x.dk"') == Comparison(
        attribute="email", operator="eq", value='a"b@x.dk'
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        "userName eq",
        'userName eq "a" and',
        'userName xx "a"',
        'nickName eq "a"',
        "(active eq true",
        "active eq true)",
        'active eq "true"',
        "active gt false",
        'userName eq "unterminated',
        "x" * 1001,
        # Value paths: unclosed, nested, on a single-valued attribute, an unknown sub-attribute,
        # a User's sub-attribute of a Group, deeper than the nesting limit.
        'emails[type eq "work"',
        'emails[type eq "work"]]',
        'groups[value eq "a" and emails[type eq "work"]]',
        'userName[value eq "a"]',
        'emails[nickName eq "a"]',
        'emails[type eq "work"].nickName eq "a"',
        'emails[primary eq "true"]',
        'members[value eq "a"]',
        "emails[" * 17 + 'type eq "work"' + "]" * 17,
        "not (" * 16 + 'emails[type eq "work"]' + ")" * 16,
    ],
)
def test_a_malformed_filter_is_an_invalid_filter(text: str) -> None:
    with pytest.raises(ScimError) as error:
        parse_filter(text)
    assert (error.value.status, error.value.scim_type) == (400, "invalidFilter")


def test_bracketed_value_paths_name_one_elements_sub_attributes() -> None:
    work = Comparison(attribute="email_type", operator="eq", value="work")
    assert parse_filter('emails[type eq "work"]') == ValuePath(attribute="emails", filter=work)
    assert parse_filter('EMAILS[Type eq "work"].Value eq "x@y"') == ValuePath(
        attribute="emails",
        filter=Logical(
            operator="and",
            operands=[work, Comparison(attribute="email", operator="eq", value="x@y")],
        ),
    )
    assert parse_filter('emails[type eq "work" and value co "@example.com"]') == ValuePath(
        attribute="emails",
        filter=Logical(
            operator="and",
            operands=[work, Comparison(attribute="email", operator="co", value="@example.com")],
        ),
    )
    # A sub-attribute without brackets is a value path of one comparison.
    assert parse_filter('emails.type eq "work"') == ValuePath(attribute="emails", filter=work)
    assert parse_filter('userName eq "a" or groups[display sw "Sal" and not (type eq "x")]') == (
        Logical(
            operator="or",
            operands=[
                Comparison(attribute="user_name", operator="eq", value="a"),
                ValuePath(
                    attribute="groups",
                    filter=Logical(
                        operator="and",
                        operands=[
                            Comparison(attribute="group_name", operator="sw", value="Sal"),
                            Negation(
                                operand=Comparison(attribute="group_type", operator="eq", value="x")
                            ),
                        ],
                    ),
                ),
            ],
        )
    )
    assert parse_filter(
        'members[value eq "u1"] and displayName pr', GROUP_FILTER_PATHS, GROUP_VALUE_PATHS
    ) == Logical(
        operator="and",
        operands=[
            ValuePath(
                attribute="members",
                filter=Comparison(attribute="members", operator="eq", value="u1"),
            ),
            Comparison(attribute="display_name", operator="pr"),
        ],
    )
    depth_15 = "not (" * 14 + 'emails[type eq "work"]' + ")" * 14
    assert parse_filter(depth_15) is not None


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def test_patch_as_entra_id_and_okta_send_it() -> None:
    assert changes_of(patch({"op": "Replace", "value": {"active": "False"}})) == [
        AttributeChange(op="set", attribute="active", value=False)
    ]
    assert changes_of(patch({"op": "replace", "path": "active", "value": False})) == [
        AttributeChange(op="set", attribute="active", value=False)
    ]
    assert changes_of(
        patch(
            {"op": "add", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Sales"},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@x.dk"},
            {"op": "replace", "value": {"name.givenName": "Ada", "title": None}},
            {"op": "remove", "path": "name"},
        )
    ) == [
        AttributeChange(op="set", attribute="department", value="Sales"),
        AttributeChange(op="set", attribute="email", value="a@x.dk"),
        AttributeChange(op="set", attribute="given_name", value="Ada"),
        AttributeChange(op="remove", attribute="title"),
        AttributeChange(op="remove", attribute="given_name"),
        AttributeChange(op="remove", attribute="family_name"),
        AttributeChange(op="remove", attribute="formatted_name"),
    ]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"Operations": [{"op": "add", "value": {"active": True}}]}, "invalidSyntax"),
        (patch(), "invalidSyntax"),
        (patch({"op": "move", "path": "active"}), "invalidSyntax"),
        (patch({"op": "remove"}), "noTarget"),
        (patch({"op": "replace", "path": "nickName2", "value": "x"}), "invalidPath"),
        (patch({"op": "replace", "path": "meta.created", "value": "x"}), "mutability"),
        (patch({"op": "remove", "path": "userName"}), "mutability"),
        (patch({"op": "replace", "path": "title", "value": {"a": 1}}), "invalidValue"),
    ],
)
def test_a_bad_patch_says_what_is_wrong(body: dict[str, Any], scim_type: str) -> None:
    with pytest.raises(ScimError) as error:
        changes_of(body)
    assert error.value.scim_type == scim_type


def test_a_user_keeps_its_primary_email_and_extensions() -> None:
    attributes = attributes_of(
        {
            "schemas": [USER_SCHEMA],
            "userName": "ada",
            "emails": [
                {"value": "home@x.dk", "type": "home"},
                {"value": "w@x.dk", "primary": True},
            ],
            ENTERPRISE_SCHEMA: {"manager": {"value": "M-1"}, "department": "R&D"},
            "phoneNumbers": [{"value": "+45 1234"}],
        }
    )
    assert (attributes.email, attributes.manager_id, attributes.department) == (
        "w@x.dk",
        "M-1",
        "R&D",
    )
