"""The content service's domain logic. No commits and no broker here: the edges own both.

- the library: items, their approval workflow (draft → in review → approved → retired, a rejected
  item back to draft) and the kept history of every step;
- the organisation's compliance rules (`advocacy_content.compliance` checks them);
- suggestions (`advocacy_content.suggestions`; `get_suggestion` here is what the posting side
  reads); the event-fed copies they rank from are in `advocacy_content.copies`.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_content import compliance
from advocacy_content.copies import seed_playbook
from advocacy_content.models import ComplianceRulesRecord, ContentItemRecord, ItemHistoryRecord
from advocacy_content.repository import (
    CopyRepository,
    LibraryRepository,
    SuggestionRepository,
    tenant_repository,
)
from advocacy_content.suggestions import suggestion_view
from advocacy_shared.contracts.ambassadors import Segment
from advocacy_shared.contracts.content import (
    ComplianceReport,
    ComplianceRuleFields,
    ComplianceRules,
    ContentItem,
    ContentItemApproved,
    ContentItemRetired,
    ItemChanges,
    ItemFields,
    ItemHistoryEntry,
    ItemHistoryPage,
    ItemKind,
    ItemPage,
    ItemStatus,
    Suggestion,
    Violation,
)
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound, NotReady
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.envelope import utc_now
from advocacy_shared.outbox import Outbox
from advocacy_shared.paging import keyset_page


async def provision_organisation(session: AsyncSession, fact: OrganisationCreated) -> None:
    """Record the tenant and seed the copy of its playbook (version 1, the default matrix)."""
    if await tenant_repository.record(session, fact):
        await seed_playbook(session, fact.organisation_id)


async def _tenant(session: AsyncSession, organisation_id: UUID) -> None:
    if not await tenant_repository.exists(session, organisation_id):
        raise NotReady(
            "the content service has not provisioned this organisation yet",
            {"organisation_id": str(organisation_id)},
        )


# --- The library ---------------------------------------------------------------------------------


def item_view(record: ContentItemRecord) -> ContentItem:
    return ContentItem(
        id=record.id,
        organisation_id=record.organisation_id,
        title=record.title,
        body=record.body,
        link=record.link,
        kind=cast(ItemKind, record.kind),
        disciplines=list(record.disciplines),
        topics=list(record.topics),
        language=record.language,
        segments=[cast(Segment, s) for s in record.segments],
        publish_from=record.publish_from,
        expires_at=record.expires_at,
        status=cast(ItemStatus, record.status),
        proposed_by_ambassador=record.proposed_by_ambassador,
        revision=record.revision,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _fields(record: ContentItemRecord) -> ItemFields:
    return ItemFields.model_validate(
        {
            "title": record.title,
            "body": record.body,
            "link": record.link,
            "kind": record.kind,
            "disciplines": record.disciplines,
            "topics": record.topics,
            "language": record.language,
            "segments": record.segments,
            "publish_from": record.publish_from,
            "expires_at": record.expires_at,
        }
    )


async def existing_item(
    session: AsyncSession, organisation_id: UUID, item_id: UUID, *, for_update: bool = False
) -> ContentItemRecord:
    """The item, if it is this organisation's: another organisation's is unknown here (404)."""
    record = await LibraryRepository(session, organisation_id).item(item_id, for_update=for_update)
    if record is None:
        raise NotFound(f"there is no content item {item_id}", {"item_id": str(item_id)})
    return record


async def _known_disciplines(session: AsyncSession, organisation_id: UUID, keys: list[str]) -> None:
    copies = CopyRepository(session, organisation_id)
    known = {d.key for d in await copies.disciplines()}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise Invalid(
            f"the playbook has no discipline {', '.join(unknown)}",
            {"unknown_disciplines": unknown, "known_disciplines": sorted(known)},
        )


def _record_step(
    session: AsyncSession,
    record: ContentItemRecord,
    number: int,
    action: str,
    from_status: str | None,
    actor: str,
    note: str | None = None,
) -> None:
    session.add(
        ItemHistoryRecord(
            organisation_id=record.organisation_id,
            item_id=record.id,
            number=number,
            action=action,
            from_status=from_status,
            to_status=record.status,
            actor=actor,
            note=note,
            revision=record.revision,
            snapshot=_fields(record).model_dump(mode="json"),
        )
    )


async def _step(
    session: AsyncSession,
    record: ContentItemRecord,
    action: str,
    to_status: str,
    actor: str,
    note: str | None = None,
) -> None:
    from_status = record.status
    number = await LibraryRepository(session, record.organisation_id).history_count(record.id) + 1
    record.status = to_status
    record.revision += 1
    record.updated_at = utc_now()
    session.add(record)
    _record_step(session, record, number, action, from_status, actor, note)


def _new_record(
    organisation_id: UUID, fields: ItemFields, status: str, actor: str, ambassador: UUID | None
) -> ContentItemRecord:
    return ContentItemRecord(
        organisation_id=organisation_id,
        title=fields.title,
        body=fields.body,
        link=fields.link,
        kind=fields.kind,
        disciplines=list(dict.fromkeys(fields.disciplines)),
        topics=list(dict.fromkeys(t.strip() for t in fields.topics if t.strip())),
        language=fields.language,
        segments=list(dict.fromkeys(fields.segments)),
        publish_from=fields.publish_from,
        expires_at=fields.expires_at,
        status=status,
        proposed_by_ambassador=ambassador,
        created_by=actor,
    )


async def create_item(
    session: AsyncSession, organisation_id: UUID, fields: ItemFields, actor: str
) -> ContentItem:
    """A new draft (checked against the rules only when submitted)."""
    await _tenant(session, organisation_id)
    await _known_disciplines(session, organisation_id, fields.disciplines)
    record = _new_record(organisation_id, fields, "draft", actor, None)
    session.add(record)
    await session.flush()
    _record_step(session, record, 1, "created", None, actor)
    return item_view(record)


async def propose_item(
    session: AsyncSession,
    organisation_id: UUID,
    ambassador_id: UUID,
    fields: ItemFields,
    actor: str,
) -> ContentItem:
    """An ambassador's proposal: checked against the rules, then straight into review."""
    await _tenant(session, organisation_id)
    ambassador = await CopyRepository(session, organisation_id).ambassador(ambassador_id)
    if ambassador is None or ambassador.activity == "left":
        raise NotFound(
            f"there is no ambassador {ambassador_id}", {"ambassador_id": str(ambassador_id)}
        )
    await _known_disciplines(session, organisation_id, fields.disciplines)
    await _comply(session, organisation_id, fields)
    record = _new_record(organisation_id, fields, "in_review", actor, ambassador_id)
    session.add(record)
    await session.flush()
    _record_step(session, record, 1, "proposed", None, actor)
    return item_view(record)


async def edit_item(
    session: AsyncSession, organisation_id: UUID, item_id: UUID, changes: ItemChanges, actor: str
) -> ContentItem:
    """Change a draft (an item in review or approved is changed by rejecting it first)."""
    record = await existing_item(session, organisation_id, item_id, for_update=True)
    if record.status != "draft":
        raise Conflict(
            f"only a draft can be edited; this item is {record.status}",
            {"status": record.status, "rule": "edit_only_drafts"},
        )
    update = changes.model_dump(exclude_none=True)
    try:
        fields = ItemFields.model_validate({**_fields(record).model_dump(), **update})
    except ValidationError as exc:
        raise Invalid(
            "the edited item is not valid",
            {"errors": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]},
        ) from exc
    await _known_disciplines(session, organisation_id, fields.disciplines)
    edited = _new_record(organisation_id, fields, "draft", record.created_by, None)
    for name in ("title", "body", "link", "kind", "disciplines", "topics", "language"):
        setattr(record, name, getattr(edited, name))
    for name in ("segments", "publish_from", "expires_at"):
        setattr(record, name, getattr(edited, name))
    await _step(session, record, "edited", "draft", actor)
    return item_view(record)


def item_text(fields: ItemFields) -> str:
    return f"{fields.title}\n{fields.body}"


async def _comply(session: AsyncSession, organisation_id: UUID, fields: ItemFields) -> None:
    """Refuse an item that breaks a compliance rule: the message names the first rule broken,
    the context lists every violation."""
    rules = await LibraryRepository(session, organisation_id).rules()
    violations = compliance.check_text(
        rules, item_text(fields), [fields.link] if fields.link else []
    )
    if violations:
        raise_violations(violations, "item")


def raise_violations(violations: list[Violation], what: str) -> None:
    first = violations[0]
    raise Invalid(
        f"the {what} breaks the compliance rule {first.rule}: {first.message}"
        + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""),
        {
            "rule": first.rule,
            "violations": [v.model_dump(mode="json") for v in violations],
        },
    )


async def submit_item(
    session: AsyncSession, organisation_id: UUID, item_id: UUID, actor: str
) -> ContentItem:
    record = await existing_item(session, organisation_id, item_id, for_update=True)
    if record.status != "draft":
        raise Conflict(
            f"only a draft can be submitted; this item is {record.status}",
            {"status": record.status, "rule": "submit_only_drafts"},
        )
    await _comply(session, organisation_id, _fields(record))
    await _step(session, record, "submitted", "in_review", actor)
    return item_view(record)


async def review_item(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    item_id: UUID,
    decision: str,
    note: str | None,
    actor: str,
) -> ContentItem:
    """Approve an item in review (the rules are checked again: they may have changed) or send it
    back to draft with a note."""
    record = await existing_item(session, organisation_id, item_id, for_update=True)
    if record.status != "in_review":
        raise Conflict(
            f"only an item in review can be approved or rejected; this item is {record.status}",
            {"status": record.status, "rule": "review_only_in_review"},
        )
    if decision == "reject":
        await _step(session, record, "rejected", "draft", actor, note)
        return item_view(record)
    await _comply(session, organisation_id, _fields(record))
    now = utc_now()
    record.approved_at = now
    await _step(session, record, "approved", "approved", actor, note)
    await outbox.add(
        session,
        ContentItemApproved(
            item_id=record.id,
            kind=cast(ItemKind, record.kind),
            disciplines=list(record.disciplines),
            language=record.language,
            revision=record.revision,
            approved_by=actor[:300],
            approved_at=now,
        ),
        organisation_id=organisation_id,
        subject=str(record.id),
    )
    return item_view(record)


async def retire_item(
    session: AsyncSession,
    outbox: Outbox,
    organisation_id: UUID,
    item_id: UUID,
    note: str | None,
    actor: str,
) -> ContentItem:
    record = await existing_item(session, organisation_id, item_id, for_update=True)
    if record.status == "retired":
        raise Conflict("the item is retired already", {"status": record.status})
    was_approved = record.status == "approved"
    await _step(session, record, "retired", "retired", actor, note)
    if was_approved:
        await outbox.add(
            session,
            ContentItemRetired(item_id=record.id, retired_by=actor[:300], retired_at=utc_now()),
            organisation_id=organisation_id,
            subject=str(record.id),
        )
    return item_view(record)


async def get_item(session: AsyncSession, organisation_id: UUID, item_id: UUID) -> ContentItem:
    return item_view(await existing_item(session, organisation_id, item_id))


async def list_items(
    session: AsyncSession, organisation_id: UUID, status: str | None, limit: int, after: UUID | None
) -> ItemPage:
    rows = await LibraryRepository(session, organisation_id).page(status, limit, after)
    shown, next_after = keyset_page(rows, limit, lambda r: r.id)
    return ItemPage(items=[item_view(r) for r in shown], next_after=next_after)


async def item_history(
    session: AsyncSession, organisation_id: UUID, item_id: UUID, limit: int, after: int | None
) -> ItemHistoryPage:
    await existing_item(session, organisation_id, item_id)
    rows = await LibraryRepository(session, organisation_id).history(item_id, limit, after)
    shown, next_after = keyset_page(rows, limit, lambda r: r.number)
    return ItemHistoryPage(
        items=[
            ItemHistoryEntry(
                number=r.number,
                action=cast(Any, r.action),
                from_status=cast(Any, r.from_status),
                to_status=cast(ItemStatus, r.to_status),
                actor=r.actor,
                note=r.note,
                revision=r.revision,
                snapshot=ItemFields.model_validate(r.snapshot),
                at=r.at,
            )
            for r in shown
        ],
        next_after=next_after,
    )


# --- Compliance rules ----------------------------------------------------------------------------


def _rules_view(organisation_id: UUID, record: ComplianceRulesRecord | None) -> ComplianceRules:
    if record is None:
        return ComplianceRules(
            organisation_id=organisation_id,
            required_disclosure=None,
            blocked_phrases=[],
            allowed_link_domains=[],
            version=0,
            updated_by=None,
            updated_at=None,
        )
    return ComplianceRules(
        organisation_id=organisation_id,
        required_disclosure=record.required_disclosure,
        blocked_phrases=list(record.blocked_phrases),
        allowed_link_domains=list(record.allowed_link_domains),
        version=record.version,
        updated_by=record.updated_by,
        updated_at=record.updated_at,
    )


async def compliance_rules(session: AsyncSession, organisation_id: UUID) -> ComplianceRules:
    await _tenant(session, organisation_id)
    return _rules_view(organisation_id, await LibraryRepository(session, organisation_id).rules())


async def rules_for_posts(
    session: AsyncSession, organisation_id: UUID
) -> ComplianceRulesRecord | None:
    """The rules a post is checked against (`compliance.check_text(rules, text, links)`)."""
    return await LibraryRepository(session, organisation_id).rules()


async def set_compliance_rules(
    session: AsyncSession, organisation_id: UUID, fields: ComplianceRuleFields, actor: str
) -> ComplianceRules:
    await _tenant(session, organisation_id)
    record = await LibraryRepository(session, organisation_id).rules()
    phrases = list(dict.fromkeys(p.strip() for p in fields.blocked_phrases if p.strip()))
    domains = list(dict.fromkeys(d.strip().lower().strip(".") for d in fields.allowed_link_domains))
    if record is None:
        record = ComplianceRulesRecord(
            organisation_id=organisation_id,
            blocked_phrases=[],
            allowed_link_domains=[],
            version=0,
            updated_by=actor,
        )
    record.required_disclosure = fields.required_disclosure
    record.blocked_phrases = phrases
    record.allowed_link_domains = [d for d in domains if d]
    record.version += 1
    record.updated_by = actor
    record.updated_at = utc_now()
    session.add(record)
    await session.flush()
    return _rules_view(organisation_id, record)


async def check_compliance(
    session: AsyncSession, organisation_id: UUID, text: str, links: list[str]
) -> ComplianceReport:
    await _tenant(session, organisation_id)
    rules = await LibraryRepository(session, organisation_id).rules()
    violations = compliance.check_text(rules, text, links)
    return ComplianceReport(ok=not violations, violations=violations)


# --- Suggestions (for the posting side) ----------------------------------------------------------


async def get_suggestion(
    session: AsyncSession,
    organisation_id: UUID,
    suggestion_id: UUID,
    ambassador_id: UUID | None = None,
) -> Suggestion:
    """One suggestion of this organisation (another organisation's is unknown: 404); with
    `ambassador_id`, only that ambassador's (a colleague's is unknown too)."""
    record = await SuggestionRepository(session, organisation_id).get(suggestion_id)
    if record is None or ambassador_id not in (None, record.ambassador_id):
        raise NotFound(
            f"there is no suggestion {suggestion_id}", {"suggestion_id": str(suggestion_id)}
        )
    item = await existing_item(session, organisation_id, record.item_id)
    return suggestion_view(record, item)
