"""The gateway's own logic: organisations, members, API keys, sessions and the audit log.

No commits and no broker here: the edges own both. Every administrative change writes its audit
entry in the same transaction as the change.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.access import Role, Scope
from advocacy_gateway.models import (
    ApiKey,
    AuditEntry,
    Membership,
    OidcLoginAttempt,
    OidcProvider,
    Organisation,
    User,
    UserSession,
)
from advocacy_gateway.oidc import OidcClient, OidcError, Pkce
from advocacy_gateway.repository import (
    ApiKeyRepository,
    AuditRepository,
    MembershipRepository,
    OidcRepository,
    OrganisationRepository,
    SessionRepository,
    UserRepository,
)
from advocacy_gateway.security import (
    hash_password_off_loop,
    hash_secret,
    new_api_key,
    new_token,
    password_needs_rehash,
    verify_password_off_loop,
)
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class LoginFailed(Exception):
    """Wrong email or password, or a disabled user: the caller is not told which."""


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].rstrip("-")


def audit(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    action: str,
    target: str,
    **detail: Any,
) -> None:
    AuditRepository(session).add(
        AuditEntry(
            organisation_id=organisation_id,
            actor=actor,
            action=action,
            target=target,
            detail=detail,
        )
    )


async def create_organisation(
    session: AsyncSession, outbox: Outbox, actor: str, name: str, slug: str | None
) -> Organisation:
    """Create the organisation and, in the same transaction, its OrganisationCreated event."""
    name = name.strip()
    if not name:
        raise Invalid("the name is blank", {"field": "name"})
    slug = slug or slugify(name)
    if not re.match(SLUG_PATTERN, slug):
        raise Invalid("the name gives no usable slug: give one", {"field": "slug"})
    organisations = OrganisationRepository(session)
    if await organisations.slug_taken(slug):
        raise Conflict(f"an organisation with slug {slug!r} exists already", {"slug": slug})
    organisation = Organisation(name=name, slug=slug)
    organisations.add(organisation)
    await outbox.add(
        session,
        OrganisationCreated(
            organisation_id=organisation.id,
            name=organisation.name,
            slug=organisation.slug,
            created_at=organisation.created_at,
        ),
        organisation_id=organisation.id,
        subject=str(organisation.id),
    )
    audit(session, organisation.id, actor, "organisation.created", f"organisation:{slug}")
    return organisation


async def add_member(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    email: str,
    display_name: str,
    role: Role,
    password: str | None,
) -> tuple[Membership, User]:
    """Give a person a role in the organisation: a new account of this organisation's own.

    Accounts are organisation-scoped: only this organisation's accounts are looked at, so the
    answer is the same whether or not the address has an account anywhere else, and nothing done
    here (the password above all) reaches another organisation's account or a platform admin.
    """
    users = UserRepository(session)
    if await users.by_email(organisation_id, email) is not None:
        raise Conflict(f"{email} is a member already")
    user = User(
        organisation_id=organisation_id,
        email=email.lower(),
        display_name=display_name,
        password_hash=await hash_password_off_loop(password) if password else None,
    )
    users.add(user)
    await session.flush()
    members = MembershipRepository(session, organisation_id)
    membership = Membership(organisation_id=organisation_id, user_id=user.id, role=role.value)
    members.add(membership)
    audit(session, organisation_id, actor, "member.added", f"user:{user.id}", role=role.value)
    return membership, user


async def change_role(
    session: AsyncSession, organisation_id: UUID, actor: str, user_id: UUID, role: Role
) -> tuple[Membership, User]:
    members = MembershipRepository(session, organisation_id)
    await members.lock_organisation()
    membership = await _membership(members, user_id)
    if membership.role == Role.ORG_ADMIN and role != Role.ORG_ADMIN:
        await _keep_an_admin(members)
    previous = membership.role
    membership.role = role.value
    session.add(membership)
    audit(
        session,
        organisation_id,
        actor,
        "member.role_changed",
        f"user:{user_id}",
        role=role.value,
        previous=previous,
    )
    user = await UserRepository(session).get(user_id)
    assert user is not None
    return membership, user


async def remove_member(
    session: AsyncSession, organisation_id: UUID, actor: str, user_id: UUID
) -> None:
    members = MembershipRepository(session, organisation_id)
    await members.lock_organisation()
    membership = await _membership(members, user_id)
    if membership.role == Role.ORG_ADMIN:
        await _keep_an_admin(members)
    await members.remove(membership)
    # The account exists for this membership only: it goes with it, and so do its sessions.
    await SessionRepository(session).remove_all_but(user_id, "")
    await UserRepository(session).remove(organisation_id, user_id)
    audit(session, organisation_id, actor, "member.removed", f"user:{user_id}")


async def _membership(members: MembershipRepository, user_id: UUID) -> Membership:
    membership = await members.get(user_id)
    if membership is None:
        raise NotFound(f"no member {user_id} in this organisation")
    return membership


async def _keep_an_admin(members: MembershipRepository) -> None:
    """Refuse to take away the last admin. The caller holds the organisation's lock, taken
    before it read anything, so the count and the change are one step."""
    admins = [m for m, _ in await members.page(10_000, None) if m.role == Role.ORG_ADMIN]
    if len(admins) <= 1:
        raise Conflict("the organisation would have no admin left: name another one first")


async def create_api_key(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    name: str,
    scopes: list[Scope],
    expires_at: datetime | None,
    rotated_from: UUID | None = None,
) -> tuple[ApiKey, str]:
    """A new key; the whole key is returned here only, never stored and never logged."""
    if expires_at is not None and expires_at <= utc_now():
        raise Invalid("expires_at must be in the future", {"field": "expires_at"})
    prefix, secret = new_api_key()
    key = ApiKey(
        organisation_id=organisation_id,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=sorted({scope.value for scope in scopes}),
        created_by=actor,
        expires_at=expires_at,
        rotated_from=rotated_from,
    )
    ApiKeyRepository(session).add(key)
    audit(
        session, organisation_id, actor, "api_key.created", f"api_key:{key.id}", scopes=key.scopes
    )
    return key, secret


async def rotate_api_key(
    session: AsyncSession, organisation_id: UUID, actor: str, key_id: UUID, overlap: timedelta
) -> tuple[ApiKey, str]:
    """A new key with the same name, scopes and expiry; the old one keeps working for `overlap`.

    Only a live key that has not been rotated before can be rotated: rotation renews the secret,
    never the lifetime, so an expired or retired key cannot be turned into one that never expires.
    """
    keys = ApiKeyRepository(session)
    old = await _live_key(session, organisation_id, key_id)
    now = utc_now()
    if old.expires_at is not None and old.expires_at <= now:
        raise Conflict("this key has expired: create a new one", {"key_id": str(key_id)})
    if await keys.successor(organisation_id, old.id) is not None:
        raise Conflict(
            "this key was rotated already: rotate its successor", {"key_id": str(key_id)}
        )
    new, secret = await create_api_key(
        session,
        organisation_id,
        actor,
        old.name,
        [Scope(s) for s in old.scopes],
        old.expires_at,
        rotated_from=old.id,
    )
    retire_at = now + overlap
    if old.expires_at is None or old.expires_at > retire_at:
        old.expires_at = retire_at
    session.add(old)
    audit(
        session,
        organisation_id,
        actor,
        "api_key.rotated",
        f"api_key:{old.id}",
        replaced_by=str(new.id),
        overlap_seconds=int(overlap.total_seconds()),
    )
    return new, secret


async def revoke_api_key(
    session: AsyncSession, organisation_id: UUID, actor: str, key_id: UUID
) -> None:
    key = await _live_key(session, organisation_id, key_id)
    key.revoked_at = utc_now()
    session.add(key)
    audit(session, organisation_id, actor, "api_key.revoked", f"api_key:{key.id}")


async def _live_key(session: AsyncSession, organisation_id: UUID, key_id: UUID) -> ApiKey:
    key = await ApiKeyRepository(session).get(organisation_id, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active API key {key_id} in this organisation")
    return key


async def create_platform_admin(
    session: AsyncSession, email: str, display_name: str, password: str
) -> User:
    """A platform admin's account belongs to no organisation, so no organisation can reach it:
    an organisation's address book and single sign-on only ever see their own accounts."""
    users = UserRepository(session)
    if await users.by_email(None, email) is not None:
        raise Conflict(f"a platform admin {email} exists already")
    user = User(
        organisation_id=None,
        email=email.lower(),
        display_name=display_name,
        password_hash=await hash_password_off_loop(password),
        is_platform_admin=True,
    )
    users.add(user)
    return user


async def account_for_login(
    session: AsyncSession, organisation: str | None, email: str
) -> User | None:
    """The one account a login names: `organisation` (slug or id) and email for an
    organisation's member, the email alone for a platform admin."""
    organisation_id: UUID | None = None
    if organisation is not None:
        found = await OrganisationRepository(session).by_slug_or_id(organisation)
        if found is None:
            return None
        organisation_id = found.id
    return await UserRepository(session).by_email(organisation_id, email)


async def check_password(user: User | None, password: str) -> User:
    """The account, if the password is its own and it may sign in; time alike otherwise."""
    password_hash = user.password_hash if user is not None else None
    if not await verify_password_off_loop(password_hash, password):
        raise LoginFailed
    if user is None or user.disabled:
        raise LoginFailed
    return user


async def rehashed_if_outdated(user: User, password: str) -> str | None:
    """After a successful sign-in, a new hash of the password just checked when the stored one
    was made with other Argon2 parameters than the settings' (off the event loop), so that a
    raised cost reaches existing accounts at their next sign-in; None when it is current."""
    if user.password_hash is None or not password_needs_rehash(user.password_hash):
        return None
    return await hash_password_off_loop(password)


async def store_rehashed_password(session: AsyncSession, user: User, rehashed: str) -> None:
    assert user.password_hash is not None
    await UserRepository(session).replace_password_hash(user.id, user.password_hash, rehashed)


async def open_session(
    session: AsyncSession, user: User, lifetime: timedelta
) -> tuple[str, UserSession]:
    token = new_token()
    user_session = UserSession(
        token_hash=hash_secret(token),
        user_id=user.id,
        csrf_token=new_token(),
        expires_at=utc_now() + lifetime,
    )
    SessionRepository(session).add(user_session)
    return token, user_session


async def change_password(
    session: AsyncSession, user_id: UUID, current: str, new: str, keep_token: str | None
) -> None:
    """Check the current password, set the new one, and end every other session of the user."""
    user = await UserRepository(session).get(user_id)
    if user is None or not await verify_password_off_loop(user.password_hash, current):
        raise LoginFailed
    user.password_hash = await hash_password_off_loop(new)
    session.add(user)
    await SessionRepository(session).remove_all_but(user.id, hash_secret(keep_token or ""))


async def link_ambassador(
    session: AsyncSession, organisation_id: UUID, user_id: UUID, ambassador_id: UUID, actor: str
) -> None:
    """Link the account to its ambassador record (checked by the ambassadors service: the
    account holds that record's accepted invitation and has its address). Linking again to the
    same record changes nothing; one account has one record and one record one account, so a
    second of either is a conflict (the unique constraint stops two concurrent links)."""
    memberships = MembershipRepository(session, organisation_id)
    membership = await memberships.get(user_id)
    if membership is None:
        raise NotFound("the account is not a member of this organisation")
    if membership.ambassador_id == ambassador_id:
        return
    if membership.ambassador_id is not None:
        raise Conflict(
            "this account is already linked to another ambassador record",
            {"rule": "one_ambassador_per_account"},
        )
    holder = await memberships.linked_to(ambassador_id)
    if holder is not None:
        raise Conflict(
            "this ambassador record is already linked to another account",
            {"rule": "one_account_per_ambassador"},
        )
    membership.ambassador_id = ambassador_id
    memberships.add(membership)
    audit(
        session,
        organisation_id,
        actor,
        "member.linked_ambassador",
        f"user:{user_id}",
        ambassador_id=str(ambassador_id),
    )


async def csrf_token_of(session: AsyncSession, token: str) -> str | None:
    """The CSRF token of the session the cookie holds (one signed in through SSO never saw it)."""
    user_session = await SessionRepository(session).get(hash_secret(token))
    return user_session.csrf_token if user_session is not None else None


async def log_out(session: AsyncSession, token: str) -> None:
    await SessionRepository(session).remove(hash_secret(token))


class SsoFailed(Exception):
    """Single sign-on did not prove who the person is; the message says why."""


class SsoBusy(Exception):
    """Too many sign-ins of the organisation are under way to begin another."""


@dataclass(frozen=True)
class SsoStart:
    redirect_to: str
    state: str


async def configure_sso(
    session: AsyncSession,
    oidc: OidcClient,
    box: SecretBox,
    organisation_id: UUID,
    actor: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    email_domains: list[str],
) -> OidcProvider:
    """Save the organisation's identity provider, after checking that its discovery answers."""
    try:
        await oidc.metadata(issuer)
    except OidcError as exc:
        raise Invalid(
            f"the identity provider does not check out: {exc}", {"field": "issuer"}
        ) from exc
    providers = OidcRepository(session)
    provider = await providers.provider(organisation_id) or OidcProvider(
        organisation_id=organisation_id, issuer=issuer, client_id=client_id, client_secret_sealed=""
    )
    provider.issuer = issuer
    provider.client_id = client_id
    provider.client_secret_sealed = box.seal(client_secret)
    provider.email_domains = sorted({domain.lower() for domain in email_domains})
    provider.updated_at = utc_now()
    providers.save(provider)
    audit(session, organisation_id, actor, "sso.configured", f"issuer:{issuer}")
    return provider


async def remove_sso(session: AsyncSession, organisation_id: UUID, actor: str) -> None:
    if not await OidcRepository(session).remove_provider(organisation_id):
        raise NotFound("single sign-on is not configured for this organisation")
    audit(session, organisation_id, actor, "sso.removed", "sso:oidc")


async def start_sso(
    session: AsyncSession,
    oidc: OidcClient,
    box: SecretBox,
    slug: str,
    redirect_uri: str,
    return_to: str,
    lifetime: timedelta,
    max_pending: int,
) -> SsoStart:
    """Remember a sign-in attempt (state, nonce, PKCE verifier) and send the browser to the IdP.
    At most `max_pending` unfinished attempts per organisation: each start writes a row without
    a credential."""
    organisation = await OrganisationRepository(session).by_slug(slug)
    provider = await OidcRepository(session).provider(organisation.id) if organisation else None
    if organisation is None or provider is None:
        raise NotFound(f"no single sign-on for organisation {slug!r}")
    if await OidcRepository(session).pending_attempts(organisation.id, utc_now()) >= max_pending:
        raise SsoBusy("too many sign-ins are under way for this organisation: try again shortly")
    try:
        metadata = await oidc.metadata(provider.issuer)
    except OidcError as exc:
        raise SsoFailed(str(exc)) from exc
    state, nonce, pkce = new_token(), new_token(), Pkce.new()
    OidcRepository(session).save(
        OidcLoginAttempt(
            state_hash=hash_secret(state),
            organisation_id=organisation.id,
            nonce=nonce,
            verifier_sealed=box.seal(pkce.verifier),
            return_to=return_to,
            expires_at=utc_now() + lifetime,
        )
    )
    url = oidc.authorization_url(metadata, provider.client_id, redirect_uri, state, nonce, pkce)
    return SsoStart(redirect_to=url, state=state)


async def claim_sso_attempt(session: AsyncSession, state: str) -> OidcLoginAttempt:
    """Take the sign-in attempt this state names; commit it at once, so a state works once."""
    attempt = await OidcRepository(session).take_attempt(hash_secret(state))
    if attempt is None or attempt.expires_at < utc_now():
        raise SsoFailed("this sign-in is unknown or has expired: start again")
    return attempt


async def finish_sso(
    session: AsyncSession,
    oidc: OidcClient,
    box: SecretBox,
    attempt: OidcLoginAttempt,
    code: str,
    redirect_uri: str,
    lifetime: timedelta,
) -> tuple[str, UserSession]:
    """Check the provider's answer and open a session for the member it names.

    Only existing members of the organisation get in: single sign-on proves who someone is,
    not what they may do.
    """
    provider = await OidcRepository(session).provider(attempt.organisation_id)
    if provider is None:
        raise SsoFailed("single sign-on is no longer configured for this organisation")
    try:
        metadata = await oidc.metadata(provider.issuer)
        identity = await oidc.identity(
            metadata,
            provider.client_id,
            box.open(provider.client_secret_sealed),
            code,
            redirect_uri,
            box.open(attempt.verifier_sealed),
            attempt.nonce,
        )
    except OidcError as exc:
        raise SsoFailed(str(exc)) from exc
    domain = identity.email.rpartition("@")[2]
    if provider.email_domains and domain not in provider.email_domains:
        raise SsoFailed(f"addresses at {domain} may not sign in to this organisation")
    # Only this organisation's own accounts: never another organisation's, never a platform
    # admin's (theirs belong to no organisation), whatever the provider vouches for.
    user = await UserRepository(session).by_email(attempt.organisation_id, identity.email)
    membership = (
        await MembershipRepository(session, attempt.organisation_id).get(user.id) if user else None
    )
    if user is None or membership is None or user.disabled or user.is_platform_admin:
        raise SsoFailed(f"{identity.email} is not a member of this organisation")
    return await open_session(session, user, lifetime)
