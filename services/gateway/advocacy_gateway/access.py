"""Who may do what: roles of users in an organisation, scopes of API keys, and the permissions
each endpoint requires. The one table to read when asking "may this caller do that?"."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role in one organisation. Platform admins are a flag on the user, across all."""

    ORG_ADMIN = "org_admin"
    PROGRAM_MANAGER = "program_manager"
    LEADERSHIP_VIEWER = "leadership_viewer"
    ANALYST = "analyst"
    AMBASSADOR = "ambassador"


class Scope(StrEnum):
    """What an integration API key may do in its organisation."""

    ADMIN = "admin"
    HR = "hr"  # the HR system: roster, SCIM, webhooks about ambassadors
    BI = "bi"  # BI tools: read only
    COMMS = "comms"  # the comms platform: content and publishing
    PERSONAL_DATA = "personal_data"  # added to another scope by an admin: names, emails, HR ids


class Permission(StrEnum):
    ORG_READ = "org.read"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    AUDIT_READ = "audit.read"
    WEBHOOKS_MANAGE = "webhooks.manage"
    PLAYBOOK_READ = "playbook.read"
    SSO_MANAGE = "sso.manage"
    AMBASSADORS_READ = "ambassadors.read"
    AMBASSADORS_MANAGE = "ambassadors.manage"
    ROSTER_MANAGE = "roster.manage"  # SCIM: only API keys, their organisation from the key
    PLANNER_READ = "planner.read"
    PLANNER_MANAGE = "planner.manage"
    PLANNER_LEADERSHIP_READ = "planner.leadership.read"
    CONTENT_READ = "content.read"
    CONTENT_MANAGE = "content.manage"
    CONTENT_APPROVE = "content.approve"
    CONTENT_PROPOSE = "content.propose"
    SUGGESTIONS_READ = "suggestions.read"
    SELF_SERVICE = "self.service"  # one's own ambassador record: /orgs/{org_id}/me/…
    POSTS_READ = "posts.read"
    POSTS_MANAGE = "posts.manage"
    METRICS_READ = "metrics.read"
    METRICS_MANAGE = "metrics.manage"  # imports of snapshots, EMV rates
    METRICS_LEADERSHIP_READ = "metrics.leadership.read"
    # Not an endpoint's permission: what decides whether readers of ambassadors see who they are
    # (names, emails, the HR system's id) or only ids and aggregates.
    PERSONAL_DATA_READ = "personal_data.read"


_ALL_ROLES = frozenset(Role)
_ALL_SCOPES = frozenset(Scope)

GRANTS: dict[Permission, tuple[frozenset[Role], frozenset[Scope]]] = {
    Permission.ORG_READ: (_ALL_ROLES, _ALL_SCOPES),
    # Staff accounts, with their emails: not the HR system's (its people are the roster).
    Permission.MEMBERS_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN}),
    ),
    Permission.MEMBERS_MANAGE: (frozenset({Role.ORG_ADMIN}), frozenset({Scope.ADMIN})),
    Permission.API_KEYS_MANAGE: (frozenset({Role.ORG_ADMIN}), frozenset({Scope.ADMIN})),
    Permission.AUDIT_READ: (frozenset({Role.ORG_ADMIN}), frozenset({Scope.ADMIN})),
    Permission.WEBHOOKS_MANAGE: (
        frozenset({Role.ORG_ADMIN}),
        frozenset({Scope.ADMIN, Scope.HR}),
    ),
    Permission.SSO_MANAGE: (frozenset({Role.ORG_ADMIN}), frozenset({Scope.ADMIN})),
    Permission.AMBASSADORS_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER, Role.ANALYST}),
        _ALL_SCOPES,
    ),
    Permission.AMBASSADORS_MANAGE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN, Scope.HR}),
    ),
    Permission.ROSTER_MANAGE: (frozenset(), frozenset({Scope.ADMIN, Scope.HR})),
    Permission.PLAYBOOK_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER, Role.ANALYST}),
        frozenset({Scope.ADMIN, Scope.BI, Scope.COMMS}),
    ),
    Permission.PLANNER_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER, Role.ANALYST}),
        frozenset({Scope.ADMIN, Scope.BI}),
    ),
    Permission.PLANNER_MANAGE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN}),
    ),
    # Leadership targets and their status: only roles that may see leadership metrics.
    Permission.PLANNER_LEADERSHIP_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER}),
        frozenset({Scope.ADMIN}),
    ),
    # The library: read by every staff role and by ambassadors (what they may share); written by
    # those who run the program and the comms platform; approved by an approver (not the comms
    # platform: a person answers for what goes out); proposed by anyone, ambassadors included.
    Permission.CONTENT_READ: (_ALL_ROLES, frozenset({Scope.ADMIN, Scope.COMMS, Scope.BI})),
    Permission.CONTENT_MANAGE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN, Scope.COMMS}),
    ),
    Permission.CONTENT_APPROVE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN}),
    ),
    Permission.CONTENT_PROPOSE: (_ALL_ROLES, frozenset({Scope.ADMIN, Scope.COMMS})),
    # An ambassador's suggestions: the ambassador, those who run the program, the comms platform.
    Permission.SUGGESTIONS_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.AMBASSADOR}),
        frozenset({Scope.ADMIN, Scope.COMMS}),
    ),
    # One's own ambassador record, its suggestions and posts (routes/me.py): any signed-in user
    # whose account is linked to a record; never an API key (a key is nobody's own).
    Permission.SELF_SERVICE: (_ALL_ROLES, frozenset()),
    # Posts: the program's staff and the comms platform write and schedule them; readers of the
    # program see them.
    Permission.POSTS_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.ANALYST}),
        frozenset({Scope.ADMIN, Scope.COMMS, Scope.BI}),
    ),
    Permission.POSTS_MANAGE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN, Scope.COMMS}),
    ),
    # Aggregates and ids, never names: BI integrations read them too.
    Permission.METRICS_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER, Role.ANALYST}),
        frozenset({Scope.ADMIN, Scope.BI}),
    ),
    Permission.METRICS_MANAGE: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN}),
    ),
    # The leadership track's metrics: only roles that may see leadership metrics.
    Permission.METRICS_LEADERSHIP_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER, Role.LEADERSHIP_VIEWER}),
        frozenset({Scope.ADMIN}),
    ),
    # Those who run the program and the HR system see people; analysts, leadership viewers and
    # BI or comms integrations see ids and aggregates unless an admin adds `personal_data`.
    Permission.PERSONAL_DATA_READ: (
        frozenset({Role.ORG_ADMIN, Role.PROGRAM_MANAGER}),
        frozenset({Scope.ADMIN, Scope.HR, Scope.PERSONAL_DATA}),
    ),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return role in GRANTS[permission][0]


def scopes_allow(scopes: frozenset[Scope], permission: Permission) -> bool:
    return bool(scopes & GRANTS[permission][1])
