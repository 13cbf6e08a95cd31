"""The HR roster, as the ambassadors service keeps it (provisioned by SCIM 2.0 or a CSV import).

The events carry the employee's id and the facts recruitment planning needs (job family, the
hard-to-recruit flag, the leadership flag, languages, topics of expertise, department); never a
name, an email, an employee number or a manager. Consumers that keep a copy delete it on
`EmployeeLeftRoster` and on `AmbassadorErased` (which names the employee id when there is one).
Each fact carries the employee's `version` (the SCIM version after it): a consumer applies only
facts newer than its copy and keeps a tombstone for an employee who left, so that a late or
redelivered older fact never brings them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from advocacy_shared.contracts.base import (
    EntityVersion,
    EventData,
    Operation,
    RpcReply,
    RpcRequest,
    event,
)
from advocacy_shared.contracts.limits import (
    FILTER_VALUE_CHARS,
    ExternalId,
    Language,
    Topic,
)

FilterValue = Annotated[str, StringConstraints(max_length=FILTER_VALUE_CHARS)]


class RosterFacts(EventData):
    """What planning may know of an employee on the roster."""

    employee_id: UUID
    external_id: ExternalId | None = Field(description="The HR system's id (SCIM externalId)")
    active: bool
    department: str | None = Field(max_length=200)
    job_family: str | None = Field(max_length=100)
    hard_to_recruit: bool
    leadership: bool
    languages: list[Language] = Field(max_length=20)
    topics: list[Topic] = Field(max_length=50)
    version: EntityVersion = None


@event("ambassadors", "employee", "joined_roster", 1)
class EmployeeJoinedRoster(RosterFacts):
    """The HR system provisioned an employee."""

    joined_at: datetime


@event("ambassadors", "employee", "changed", 1)
class EmployeeChanged(RosterFacts):
    """An employee's roster facts changed (including `active` turning false: deactivated in HR)."""

    changed_at: datetime


@event("ambassadors", "employee", "left_roster", 1)
class EmployeeLeftRoster(EventData):
    """The HR system deleted the employee: their roster record is gone; copies must go too."""

    employee_id: UUID
    external_id: ExternalId | None
    left_at: datetime
    version: EntityVersion = None


# Requests of the roster (the gateway's SCIM endpoints and the CSV import go through them). They
# are our own typed models: the SCIM wire format (camelCase, schema URNs) stays in the gateway.

RosterAttribute = Literal[
    "user_name",
    "external_id",
    "active",
    "given_name",
    "family_name",
    "formatted_name",
    "display_name",
    "email",
    "title",
    "employee_number",
    "department",
    "manager_id",
    "job_family",
    "hard_to_recruit",
    "leadership",
    "languages",
    "topics",
]
ElementAttribute = Literal[
    "email_type", "email_primary", "group_type", "member_display", "member_type"
]
"""Sub-attributes of one element of a multi-valued attribute, only inside a `ValuePath`."""
FilterAttribute = (
    RosterAttribute
    | ElementAttribute
    | Literal["id", "created_at", "updated_at", "members", "group_id", "group_name"]
)
"""`members` filters groups by an employee; `group_id` and `group_name` filter employees by the
groups they are in (the segment a group is)."""
LIST_ATTRIBUTES: frozenset[str] = frozenset({"languages", "topics"})


class EmployeeAttributes(BaseModel):
    """What the roster keeps of an employee (SCIM core User, enterprise and our extension)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_name: str = Field(min_length=1, max_length=320)
    external_id: str | None = Field(default=None, max_length=200)
    active: bool | None = Field(
        default=True, description="None: unassigned (removed by a PATCH); counts as active"
    )
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    formatted_name: str | None = Field(default=None, max_length=400)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, description="The primary work email")
    title: str | None = Field(default=None, max_length=200)
    employee_number: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=200)
    manager_id: str | None = Field(default=None, max_length=200)
    job_family: str | None = Field(default=None, max_length=100)
    hard_to_recruit: bool | None = Field(default=False, description="None: unassigned (false)")
    leadership: bool | None = Field(default=False, description="None: unassigned (false)")
    languages: list[Language] = Field(default_factory=list, max_length=20)
    topics: list[Topic] = Field(default_factory=list, max_length=50)


class Comparison(BaseModel):
    """`attribute operator value` of a SCIM filter; `pr` (present) takes no value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["comparison"] = "comparison"
    attribute: FilterAttribute
    operator: Literal["eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"]
    value: FilterValue | bool | None = None


class Logical(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["logical"] = "logical"
    operator: Literal["and", "or"]
    operands: list[RosterFilter] = Field(min_length=2, max_length=50)


class Negation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["not"] = "not"
    operand: RosterFilter


class ValuePath(BaseModel):
    """`attribute[filter]` (RFC 7644 §3.4.2.2 valuePath): some one element of the multi-valued
    attribute matches `filter` (whose comparisons name that element's sub-attributes: `email`,
    `email_type`, `email_primary` for emails; `group_id`, `group_name`, `group_type` for a User's
    groups; `members`, `member_display`, `member_type` for a Group's members)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["value_path"] = "value_path"
    attribute: Literal["emails", "groups", "members"]
    filter: RosterFilter


RosterFilter = Annotated[Comparison | Logical | Negation | ValuePath, Field(discriminator="kind")]
Logical.model_rebuild()
Negation.model_rebuild()
ValuePath.model_rebuild()


class AttributeChange(BaseModel):
    """One change of a PATCH, in our terms: `set` a value, `add` items to a list (or set a single
    value), `remove` a value (listed items of a list, or the attribute back to its default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["set", "add", "remove"]
    attribute: RosterAttribute
    value: FilterValue | bool | Annotated[list[FilterValue], Field(max_length=50)] | None = None


class ProvisionEmployee(RpcRequest):
    organisation_id: UUID
    attributes: EmployeeAttributes


class GetEmployee(RpcRequest):
    organisation_id: UUID
    employee_id: UUID


class ListEmployees(RpcRequest):
    organisation_id: UUID
    filter: RosterFilter | None = None
    start_index: int = Field(default=1, ge=1, le=2**31, description="1-based, as SCIM counts")
    count: int = Field(default=100, ge=0, le=500)
    sort_by: FilterAttribute | None = Field(default=None, description="None: oldest first")
    descending: bool = False


class ReplaceEmployee(RpcRequest):
    organisation_id: UUID
    employee_id: UUID
    attributes: EmployeeAttributes
    expected_version: int | None = Field(default=None, description="From If-Match, when sent")


class PatchEmployee(RpcRequest):
    organisation_id: UUID
    employee_id: UUID
    changes: list[AttributeChange] = Field(min_length=1, max_length=100)
    expected_version: int | None = None


class DeleteEmployee(RpcRequest):
    organisation_id: UUID
    employee_id: UUID
    expected_version: int | None = Field(default=None, description="From If-Match, when sent")


class EmployeeGroupRef(BaseModel):
    """A group the employee is in (SCIM User `groups`, read-only: RFC 7643 §4.1.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: UUID
    display_name: str


class Employee(RpcReply):
    id: UUID
    organisation_id: UUID
    attributes: EmployeeAttributes
    version: int
    created_at: datetime
    updated_at: datetime
    groups: list[EmployeeGroupRef] = Field(
        default_factory=list, description="The groups the employee is in, by name"
    )


class EmployeeList(RpcReply):
    total_results: int
    start_index: int
    items: list[Employee]


class EmployeeDeleted(RpcReply):
    employee_id: UUID
    offboarded_ambassador_id: UUID | None


PROVISION_EMPLOYEE: Operation[ProvisionEmployee, Employee] = Operation(
    "ambassadors", "employee.provision", ProvisionEmployee, Employee
)
GET_EMPLOYEE: Operation[GetEmployee, Employee] = Operation(
    "ambassadors", "employee.get", GetEmployee, Employee
)
LIST_EMPLOYEES: Operation[ListEmployees, EmployeeList] = Operation(
    "ambassadors", "employee.list", ListEmployees, EmployeeList
)
REPLACE_EMPLOYEE: Operation[ReplaceEmployee, Employee] = Operation(
    "ambassadors", "employee.replace", ReplaceEmployee, Employee
)
PATCH_EMPLOYEE: Operation[PatchEmployee, Employee] = Operation(
    "ambassadors", "employee.patch", PatchEmployee, Employee
)
DELETE_EMPLOYEE: Operation[DeleteEmployee, EmployeeDeleted] = Operation(
    "ambassadors", "employee.delete", DeleteEmployee, EmployeeDeleted
)


# Groups of the roster (SCIM 2.0 Groups, RFC 7643 §4.2): how identity providers assign people to an
# application. A group is a named set of employees ("Sales", "Leadership team"); membership is a
# roster fact, usable as a segment and by targeted recruitment ("everyone in Sales"). Groups hold
# employees only (no nested groups).

MAX_GROUP_MEMBERS = 5_000
"""Members of one group (a group with its members stays well under NATS's 1 MB); a change names
at most 1000 (identity providers send large groups in several PATCHes)."""

GroupAttribute = Literal["display_name", "external_id", "members"]
GroupFilterAttribute = Literal["id", "display_name", "external_id", "members"]


class GroupFields(BaseModel):
    """What the roster keeps of a group, members as employee ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    display_name: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=200)
    members: list[UUID] = Field(default_factory=list, max_length=MAX_GROUP_MEMBERS)


class GroupChange(BaseModel):
    """One change of a group PATCH: `set` the name or external id (none clears it), `add` or
    `remove` members (`remove` without members removes them all), `set` members replaces them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["set", "add", "remove"]
    attribute: GroupAttribute
    value: (
        Annotated[str, StringConstraints(max_length=200)]
        | Annotated[list[UUID], Field(max_length=1000)]
        | None
    ) = None


class GroupMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    employee_id: UUID
    display: str | None = Field(default=None, description="The employee's display name or userName")


class Group(RpcReply):
    id: UUID
    organisation_id: UUID
    display_name: str
    external_id: str | None
    members: list[GroupMember]
    version: int
    created_at: datetime
    updated_at: datetime


class GroupList(RpcReply):
    total_results: int
    start_index: int
    items: list[Group]


class CreateGroup(RpcRequest):
    organisation_id: UUID
    fields: GroupFields


class GetGroup(RpcRequest):
    organisation_id: UUID
    group_id: UUID
    with_members: bool = True


class ListGroups(RpcRequest):
    organisation_id: UUID
    filter: RosterFilter | None = Field(
        default=None, description="On id, display_name, external_id and members (an employee id)"
    )
    start_index: int = Field(default=1, ge=1, le=2**31)
    count: int = Field(default=100, ge=0, le=500)
    sort_by: GroupFilterAttribute | None = Field(default=None, description="None: oldest first")
    descending: bool = False
    with_members: bool = True


class ReplaceGroup(RpcRequest):
    organisation_id: UUID
    group_id: UUID
    fields: GroupFields
    expected_version: int | None = None


class PatchGroup(RpcRequest):
    organisation_id: UUID
    group_id: UUID
    changes: list[GroupChange] = Field(min_length=1, max_length=100)
    expected_version: int | None = None


class DeleteGroup(RpcRequest):
    organisation_id: UUID
    group_id: UUID
    expected_version: int | None = None


class GroupDeleted(RpcReply):
    group_id: UUID


@event("ambassadors", "employee", "joined_group", 1)
class EmployeeJoinedGroup(EventData):
    """HR (the identity provider) put an employee in a group of the roster."""

    employee_id: UUID
    group_id: UUID
    group_name: str = Field(max_length=200)
    group_external_id: ExternalId | None
    joined_at: datetime
    version: EntityVersion = Field(
        default=None, description="The group's version after the change (its SCIM meta.version)"
    )


@event("ambassadors", "employee", "left_group", 1)
class EmployeeLeftGroup(EventData):
    """An employee is no longer in a group (removed from it, or the group was deleted)."""

    employee_id: UUID
    group_id: UUID
    left_at: datetime
    version: EntityVersion = Field(
        default=None, description="The group's version after the change (last + 1 on deletion)"
    )


@event("ambassadors", "group", "changed", 1)
class RosterGroupChanged(EventData):
    """A group of the roster was created or renamed: what a program needs to target it by id or
    by name before (or without) any member joining."""

    group_id: UUID
    group_name: str = Field(max_length=200)
    group_external_id: ExternalId | None
    changed_at: datetime
    version: EntityVersion = Field(default=None, description="The group's version after the change")


@event("ambassadors", "group", "deleted", 1)
class RosterGroupDeleted(EventData):
    """A group of the roster is gone (each member's `EmployeeLeftGroup` precedes this)."""

    group_id: UUID
    deleted_at: datetime
    version: EntityVersion = Field(default=None, description="The group's last version + 1")


CREATE_GROUP: Operation[CreateGroup, Group] = Operation(
    "ambassadors", "group.create", CreateGroup, Group
)
GET_GROUP: Operation[GetGroup, Group] = Operation("ambassadors", "group.get", GetGroup, Group)
LIST_GROUPS: Operation[ListGroups, GroupList] = Operation(
    "ambassadors", "group.list", ListGroups, GroupList
)
REPLACE_GROUP: Operation[ReplaceGroup, Group] = Operation(
    "ambassadors", "group.replace", ReplaceGroup, Group
)
PATCH_GROUP: Operation[PatchGroup, Group] = Operation(
    "ambassadors", "group.patch", PatchGroup, Group
)
DELETE_GROUP: Operation[DeleteGroup, GroupDeleted] = Operation(
    "ambassadors", "group.delete", DeleteGroup, GroupDeleted
)
