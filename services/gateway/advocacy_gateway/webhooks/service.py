"""The logic of webhooks: subscriptions, secrets, intake of events, outcomes of attempts.

No commits and no broker here: the edges (routes, the event consumer, the delivery worker) own
both. Every administrative change writes its audit entry in the same transaction as the change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_gateway.service import audit
from advocacy_gateway.webhooks import signing, targets
from advocacy_gateway.webhooks.models import (
    WILDCARD,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from advocacy_gateway.webhooks.repository import (
    DeliveryRepository,
    EndpointRepository,
    ErasureRepository,
)
from advocacy_shared import tracing
from advocacy_shared.consumers import MalformedEvent
from advocacy_shared.contracts import WEBHOOK_EVENT_TYPES
from advocacy_shared.contracts.ambassadors import AmbassadorErased
from advocacy_shared.contracts.base import EventData
from advocacy_shared.contracts.errors import Conflict, Invalid, NotFound
from advocacy_shared.contracts.webhooks import WebhookEndpointDisabled
from advocacy_shared.crypto import SecretBox
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.outbox import Outbox

log = logging.getLogger(__name__)

WORKER_ACTOR = "system:webhook-delivery"
UPDATABLE = frozenset({"url", "event_types", "description", "enabled"})


def normalised_event_types(event_types: Sequence[str]) -> list[str]:
    """Known CloudEvents types without repeats, or the wildcard alone; ValueError otherwise."""
    chosen = list(dict.fromkeys(event_types))
    if not chosen:
        raise ValueError("name at least one event type, or '*' for all")
    if WILDCARD in chosen:
        if len(chosen) > 1:
            raise ValueError("'*' stands for every event type: name it alone")
        return chosen
    unknown = [event_type for event_type in chosen if event_type not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise ValueError(
            f"unknown event types: {', '.join(unknown)} (GET /api/v1/webhook-event-types)"
        )
    return chosen


async def checked_url(url: str, policy: targets.TargetPolicy) -> str:
    """The URL if it may receive webhooks; a 422 naming the reason otherwise."""
    try:
        await targets.check(url, policy)
    except targets.TargetRefused as refused:
        raise Invalid(
            f"the webhook URL is refused: {refused.message}",
            {"field": "url", "reason": refused.reason},
        ) from refused
    return url.strip()


async def create_endpoint(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    policy: targets.TargetPolicy,
    max_endpoints: int,
    url: str,
    event_types: Sequence[str],
    description: str | None,
    box: SecretBox,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; its secret is returned here and on rotation only, and kept sealed."""
    url = await checked_url(url, policy)
    endpoints = EndpointRepository(session, organisation_id)
    if await endpoints.count() >= max_endpoints:
        raise Conflict(f"an organisation may have at most {max_endpoints} webhooks")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id,
        url=url,
        description=description,
        event_types=normalised_event_types(event_types),
        secret=box.seal(secret),
        created_by=actor,
    )
    endpoints.add(endpoint)
    audit(
        session,
        organisation_id,
        actor,
        "webhook.created",
        _target(endpoint),
        url=targets.redacted(url),
        event_types=endpoint.event_types,
    )
    return endpoint, secret


async def endpoint_of(
    session: AsyncSession, organisation_id: UUID, endpoint_id: UUID
) -> WebhookEndpoint:
    endpoint = await EndpointRepository(session, organisation_id).get(endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook {endpoint_id} in this organisation")
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    policy: targets.TargetPolicy,
    endpoint_id: UUID,
    changes: dict[str, Any],
) -> WebhookEndpoint:
    """Change what was given (`changes` holds only those fields). Re-enabling resumes the
    endpoint's pending deliveries at once and starts its failure count afresh."""
    if unknown := set(changes) - UPDATABLE:
        raise Invalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    endpoint = await endpoint_of(session, organisation_id, endpoint_id)
    now = utc_now()
    if "url" in changes:
        endpoint.url = await checked_url(changes["url"], policy)
    if "event_types" in changes:
        endpoint.event_types = normalised_event_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        await _switch(session, endpoint, changes["enabled"], actor, now)
    endpoint.updated_at = now
    session.add(endpoint)
    audit(
        session,
        organisation_id,
        actor,
        "webhook.updated",
        _target(endpoint),
        **_audited(changes),
    )
    return endpoint


async def _switch(
    session: AsyncSession, endpoint: WebhookEndpoint, enabled: bool, actor: str, now: datetime
) -> None:
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        await DeliveryRepository(session, endpoint.organisation_id).resume_pending_of(
            endpoint.id, now
        )
    else:
        endpoint.disabled_at = now
        endpoint.disabled_reason = f"disabled by {actor}"[:200]


def _audited(changes: dict[str, Any]) -> dict[str, Any]:
    if "url" in changes:
        return {**changes, "url": targets.redacted(changes["url"])}
    return changes


async def delete_endpoint(
    session: AsyncSession, organisation_id: UUID, actor: str, endpoint_id: UUID
) -> None:
    """Remove the endpoint and its deliveries; an attempt in flight finds nothing to update."""
    endpoint = await endpoint_of(session, organisation_id, endpoint_id)
    await DeliveryRepository(session, organisation_id).remove_all_of(endpoint.id)
    await EndpointRepository(session, organisation_id).remove(endpoint)
    audit(
        session,
        organisation_id,
        actor,
        "webhook.deleted",
        _target(endpoint),
        url=targets.redacted(endpoint.url),
    )


async def rotate_secret(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    endpoint_id: UUID,
    overlap: timedelta,
    box: SecretBox,
) -> tuple[WebhookEndpoint, str]:
    """A new secret now; the current one keeps signing too until the overlap ends.

    A secret still in an earlier overlap is dropped: two signatures at most.
    """
    endpoint = await endpoint_of(session, organisation_id, endpoint_id)
    now = utc_now()
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret if overlap > timedelta(0) else None
    endpoint.previous_secret_expires_at = now + overlap if overlap > timedelta(0) else None
    endpoint.secret = box.seal(secret)
    endpoint.updated_at = now
    session.add(endpoint)
    audit(
        session,
        organisation_id,
        actor,
        "webhook.secret_rotated",
        _target(endpoint),
        overlap_seconds=int(overlap.total_seconds()),
    )
    return endpoint, secret


async def replay_delivery(
    session: AsyncSession,
    organisation_id: UUID,
    actor: str,
    endpoint_id: UUID,
    delivery_id: UUID,
) -> WebhookDelivery:
    """Send a message again, as a new delivery of the same body and webhook-id, due now.

    The original keeps its own history. A disabled endpoint gets it once it is enabled again.
    """
    await endpoint_of(session, organisation_id, endpoint_id)
    deliveries = DeliveryRepository(session, organisation_id)
    original = await deliveries.get(endpoint_id, delivery_id)
    if original is None:
        raise NotFound(f"no delivery {delivery_id} of webhook {endpoint_id}")
    replay = WebhookDelivery(
        organisation_id=organisation_id,
        endpoint_id=endpoint_id,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
        next_attempt_at=utc_now(),
        replay_of=original.id,
        traceparent=tracing.current_traceparent(),
    )
    deliveries.add(replay)
    audit(
        session,
        organisation_id,
        actor,
        "webhook.delivery_replayed",
        _target_id(endpoint_id),
        delivery_id=str(original.id),
        replay_id=str(replay.id),
        message_id=original.message_id,
    )
    return replay


async def intake_has_work(session: AsyncSession, fact: EventData, envelope: CloudEvent) -> bool:
    """Whether `queue_deliveries` could write anything for this event: an erasure always (it
    forgets and records the person), any other event only when its organisation has an enabled
    endpoint (whether one subscribed to its type is `queue_deliveries`' to tell)."""
    if isinstance(fact, AmbassadorErased):
        return True
    return await EndpointRepository(session, _organisation_of(envelope)).any_enabled()


async def queue_deliveries(
    session: AsyncSession, fact: EventData, envelope: CloudEvent
) -> list[WebhookDelivery]:
    """Intake of one event: a delivery, due now, for each enabled endpoint of its organisation
    that subscribed to its type. Only rows: the worker does the sending."""
    organisation_id = _organisation_of(envelope)
    erasures = ErasureRepository(session, organisation_id)
    if isinstance(fact, AmbassadorErased):
        # Erasure reaches the delivery log too: earlier payloads name the person's ids, as an
        # ambassador and, for the roster's events, as an employee. A tombstone keeps any later
        # event about them (redelivered, replayed) from bringing them back.
        deliveries = DeliveryRepository(session, organisation_id)
        for erased_id in (fact.ambassador_id, fact.employee_id):
            if erased_id is not None:
                await deliveries.forget_mentioning(str(erased_id))
                await erasures.record(erased_id, utc_now())
    elif await erasures.any_erased(people_named(fact)):
        log.info(
            "skipping an event about an erased person",
            extra={"event_type": envelope.type, "event_id": envelope.id},
        )
        return []
    endpoints = await EndpointRepository(session, organisation_id).enabled_for(envelope.type)
    if not endpoints:
        return []
    data = {**fact.model_dump(mode="json"), "organisation_id": str(organisation_id)}
    body = signing.payload(envelope.type, envelope.time, data)
    now = utc_now()
    deliveries = DeliveryRepository(session, organisation_id)
    traceparent = tracing.current_traceparent()
    queued = [
        WebhookDelivery(
            organisation_id=organisation_id,
            endpoint_id=endpoint.id,
            message_id=envelope.id,
            event_type=envelope.type,
            payload=body,
            next_attempt_at=now,
            traceparent=traceparent,
        )
        for endpoint in endpoints
    ]
    for delivery in queued:
        deliveries.add(delivery)
    return queued


PERSON_FIELDS = ("ambassador_id", "employee_id")
"""The fields by which an event names a person (the ids an erasure names)."""


def people_named(fact: EventData) -> list[UUID]:
    """The people an event is about: its ambassador and employee ids."""
    named = (getattr(fact, name, None) for name in PERSON_FIELDS)
    return [value for value in named if isinstance(value, UUID)]


def _organisation_of(envelope: CloudEvent) -> UUID:
    try:
        return UUID(envelope.orgid)
    except ValueError as exc:
        raise MalformedEvent("orgid: not an organisation id") from exc


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to: an HTTP status, or an error before any answer."""

    at: datetime
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver wants no more webhooks (Standard Webhooks: disable it)."""
        return self.status_code == 410


@dataclass(frozen=True)
class DisableRule:
    """An endpoint is disabled when its attempts have failed for `after`, at least `min_failures`
    of them in a row, with no success in between."""

    after: timedelta
    min_failures: int

    def applies(self, endpoint: WebhookEndpoint, now: datetime) -> bool:
        return (
            endpoint.failing_since is not None
            and endpoint.consecutive_failures >= self.min_failures
            and now - endpoint.failing_since >= self.after
        )


async def record_success(
    session: AsyncSession, delivery: WebhookDelivery, result: AttemptResult
) -> None:
    await DeliveryRepository(session, delivery.organisation_id).record(
        delivery.id,
        status=DeliveryStatus.DELIVERED.value,
        attempts=delivery.attempts + 1,
        last_attempt_at=result.at,
        last_response_status=result.status_code,
        last_error=None,
        next_attempt_at=None,
        delivered_at=result.at,
    )
    await EndpointRepository(session, delivery.organisation_id).count_success(delivery.endpoint_id)


async def record_failure(
    session: AsyncSession,
    delivery: WebhookDelivery,
    result: AttemptResult,
    next_attempt_at: datetime | None,
    rule: DisableRule,
    outbox: Outbox,
) -> None:
    """A failed attempt: retry at `next_attempt_at`, or failed for good when it is None; the
    endpoint's failure streak grows and may disable it."""
    await DeliveryRepository(session, delivery.organisation_id).record(
        delivery.id,
        status=(DeliveryStatus.PENDING if next_attempt_at else DeliveryStatus.FAILED).value,
        attempts=delivery.attempts + 1,
        last_attempt_at=result.at,
        last_response_status=result.status_code,
        last_error=result.error[:500] if result.error else None,
        next_attempt_at=next_attempt_at,
    )
    endpoints = EndpointRepository(session, delivery.organisation_id)
    await endpoints.count_failure(delivery.endpoint_id, result.at)
    endpoint = await endpoints.fresh(delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return
    if result.gone:
        await _disable(
            session, outbox, endpoint, result.at, "gone", "the endpoint answered 410 Gone"
        )
    elif rule.applies(endpoint, result.at):
        await _disable(
            session,
            outbox,
            endpoint,
            result.at,
            "failing",
            f"{endpoint.consecutive_failures} attempts in a row failed since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M:%S} UTC",
        )


async def _disable(
    session: AsyncSession,
    outbox: Outbox,
    endpoint: WebhookEndpoint,
    at: datetime,
    kind: Literal["failing", "gone"],
    reason: str,
) -> None:
    """Disable a failing endpoint, once, with its audit entry and a WebhookEndpointDisabled event
    that tells the organisation (its other subscribers, the admin UI); pending deliveries wait."""
    endpoints = EndpointRepository(session, endpoint.organisation_id)
    if not await endpoints.disable(endpoint.id, at, reason):
        return
    audit(
        session,
        endpoint.organisation_id,
        WORKER_ACTOR,
        "webhook.disabled",
        _target(endpoint),
        reason=reason,
        url=targets.redacted(endpoint.url),
        consecutive_failures=endpoint.consecutive_failures,
        failing_since=endpoint.failing_since.isoformat() if endpoint.failing_since else None,
    )
    await outbox.add(
        session,
        WebhookEndpointDisabled(
            endpoint_id=endpoint.id,
            url=targets.redacted(endpoint.url),
            reason=kind,
            detail=reason[:200],
            failing_since=endpoint.failing_since,
            consecutive_failures=endpoint.consecutive_failures,
            disabled_at=at,
        ),
        organisation_id=endpoint.organisation_id,
        subject=str(endpoint.id),
    )


def _target(endpoint: WebhookEndpoint) -> str:
    return _target_id(endpoint.id)


def _target_id(endpoint_id: UUID) -> str:
    return f"webhook:{endpoint_id}"
