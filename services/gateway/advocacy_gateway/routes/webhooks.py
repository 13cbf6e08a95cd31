"""Outbound webhooks: an organisation's endpoints, their secrets and deliveries; the event types."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from advocacy_gateway.auth import Caller, WebhooksManager
from advocacy_gateway.routes.common import (
    COMMON_PROBLEMS,
    CONFLICT,
    CursorParam,
    IdempotencyKey,
    Limit,
    Page,
    State,
    decode_cursor,
    page_of,
)
from advocacy_gateway.webhooks import service
from advocacy_gateway.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from advocacy_gateway.webhooks.repository import DeliveryRepository, EndpointRepository
from advocacy_gateway.webhooks.targets import TargetPolicy, policy_of
from advocacy_shared.contracts import WEBHOOK_EVENT_TYPES
from advocacy_shared.contracts.base import EventData
from advocacy_shared.envelope import utc_now

ORG_WEBHOOKS = "/api/v1/orgs/{org_id}/webhooks"

router = APIRouter(tags=["webhooks"], responses=COMMON_PROBLEMS)

EventTypes = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=100,
        description="CloudEvents types from GET /api/v1/webhook-event-types, or ['*'] for all",
        examples=[["advocacy.ambassadors.ambassador.onboarded.v1"]],
    ),
    AfterValidator(service.normalised_event_types),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="http(s), without credentials; must not point into a private network",
        examples=["https://hr.example.com/webhooks/advocacy"],
    ),
]
Description = Annotated[str | None, Field(max_length=500)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes
    description: Description = None


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description = None
    enabled: bool | None = Field(
        default=None, description="false pauses deliveries; true resumes them, pending ones first"
    )

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent; a null only clears the description."""
        sent = self.model_dump(include=self.model_fields_set)
        return {
            name: value
            for name, value in sent.items()
            if value is not None or name == "description"
        }


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        default=86400,
        ge=0,
        le=30 * 24 * 3600,
        description="How long deliveries are signed with the old secret too (both signatures)",
    )


class WebhookOut(BaseModel):
    id: UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are signed with the previous secret too"
    )
    created_at: datetime
    updated_at: datetime
    created_by: str

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        out = cls.model_validate(endpoint, from_attributes=True)
        if out.previous_secret_expires_at and out.previous_secret_expires_at <= utc_now():
            out.previous_secret_expires_at = None
        return out


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        description="whsec_…: verifies the signatures; shown at creation and rotation only"
    )


class DeliveryOut(BaseModel):
    id: UUID
    webhook_id: UUID
    message_id: str = Field(description="Sent as webhook-id: the event id, the same in replays")
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_attempt_at: datetime | None
    last_response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    replay_of: UUID | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls.model_validate({**delivery.model_dump(), "webhook_id": delivery.endpoint_id})


class EventTypeOut(BaseModel):
    type: str
    domain: str
    description: str | None
    payload_schema: dict[str, Any] = Field(
        description="JSON Schema of the webhook body: {type, timestamp, data}"
    )


def _policy(state: State) -> TargetPolicy:
    return policy_of(state.settings)


def _location(org_id: UUID, endpoint_id: UUID) -> str:
    return f"/api/v1/orgs/{org_id}/webhooks/{endpoint_id}"


@router.post(
    ORG_WEBHOOKS,
    status_code=201,
    summary="Subscribe a URL to event types; the response holds its signing secret, once",
    responses=CONFLICT,
)
async def create_webhook(
    body: WebhookCreate,
    access: WebhooksManager,
    state: State,
    response: Response,
    _idempotency_key: IdempotencyKey = None,
) -> WebhookWithSecret:
    async with state.transaction() as session:
        endpoint, secret = await service.create_endpoint(
            session,
            access.organisation.id,
            access.principal.actor,
            _policy(state),
            state.settings.webhooks_max_endpoints,
            body.url,
            body.event_types,
            body.description,
            state.secrets,
        )
    response.headers["Location"] = _location(access.organisation.id, endpoint.id)
    response.headers["Cache-Control"] = "no-store"
    return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.get(ORG_WEBHOOKS, summary="The organisation's webhooks (never their secrets)")
async def list_webhooks(
    access: WebhooksManager, state: State, limit: Limit = 50, cursor: CursorParam = None
) -> Page[WebhookOut]:
    async with state.sessions() as session:
        endpoints = await EndpointRepository(session, access.organisation.id).page(
            limit + 1, decode_cursor(cursor)
        )
    return page_of(endpoints, limit, WebhookOut.of, lambda row: (row.created_at, row.id))


@router.get(ORG_WEBHOOKS + "/{webhook_id}", summary="One webhook")
async def get_webhook(webhook_id: UUID, access: WebhooksManager, state: State) -> WebhookOut:
    async with state.sessions() as session:
        endpoint = await service.endpoint_of(session, access.organisation.id, webhook_id)
    return WebhookOut.of(endpoint)


@router.patch(
    ORG_WEBHOOKS + "/{webhook_id}",
    summary="Change the URL, event types or description; disable or re-enable",
)
async def update_webhook(
    webhook_id: UUID, body: WebhookUpdate, access: WebhooksManager, state: State
) -> WebhookOut:
    async with state.transaction() as session:
        endpoint = await service.update_endpoint(
            session,
            access.organisation.id,
            access.principal.actor,
            _policy(state),
            webhook_id,
            body.changes(),
        )
    await state.wake_webhooks()
    return WebhookOut.of(endpoint)


@router.delete(
    ORG_WEBHOOKS + "/{webhook_id}", status_code=204, summary="Unsubscribe, with its deliveries"
)
async def delete_webhook(webhook_id: UUID, access: WebhooksManager, state: State) -> Response:
    async with state.transaction() as session:
        await service.delete_endpoint(
            session, access.organisation.id, access.principal.actor, webhook_id
        )
    return Response(status_code=204)


@router.post(
    ORG_WEBHOOKS + "/{webhook_id}/rotate-secret",
    summary="A new signing secret; the old one keeps signing too during the overlap",
)
async def rotate_webhook_secret(
    webhook_id: UUID,
    access: WebhooksManager,
    state: State,
    response: Response,
    body: SecretRotate | None = None,
    _idempotency_key: IdempotencyKey = None,
) -> WebhookWithSecret:
    overlap = timedelta(seconds=(body or SecretRotate()).overlap_seconds)
    async with state.transaction() as session:
        endpoint, secret = await service.rotate_secret(
            session,
            access.organisation.id,
            access.principal.actor,
            webhook_id,
            overlap,
            state.secrets,
        )
    response.headers["Cache-Control"] = "no-store"
    return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.get(
    ORG_WEBHOOKS + "/{webhook_id}/deliveries",
    summary="The webhook's deliveries, oldest first: status, attempts, last answer, next attempt",
)
async def list_deliveries(
    webhook_id: UUID,
    access: WebhooksManager,
    state: State,
    limit: Limit = 50,
    cursor: CursorParam = None,
    status: Annotated[DeliveryStatus | None, Query(description="Only these")] = None,
) -> Page[DeliveryOut]:
    async with state.sessions() as session:
        await service.endpoint_of(session, access.organisation.id, webhook_id)
        deliveries = await DeliveryRepository(session, access.organisation.id).page(
            webhook_id, limit + 1, decode_cursor(cursor), status
        )
    return page_of(deliveries, limit, DeliveryOut.of, lambda row: (row.created_at, row.id))


@router.post(
    ORG_WEBHOOKS + "/{webhook_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Send a delivery's message again, with the same webhook-id, as a new delivery",
)
async def replay_delivery(
    webhook_id: UUID,
    delivery_id: UUID,
    access: WebhooksManager,
    state: State,
    _idempotency_key: IdempotencyKey = None,
) -> DeliveryOut:
    async with state.transaction() as session:
        replay = await service.replay_delivery(
            session, access.organisation.id, access.principal.actor, webhook_id, delivery_id
        )
    await state.wake_webhooks()
    return DeliveryOut.of(replay)


@router.get(
    "/api/v1/webhook-event-types",
    summary="Every event type a webhook can subscribe to, with the JSON Schema of its body",
)
async def webhook_event_types(_caller: Caller) -> list[EventTypeOut]:
    return [_event_type(name, model) for name, model in sorted(WEBHOOK_EVENT_TYPES.items())]


def _event_type(name: str, model: type[EventData]) -> EventTypeOut:
    data = model.model_json_schema()
    definitions = data.pop("$defs", {})
    data["properties"]["organisation_id"] = {
        "type": "string",
        "format": "uuid",
        "description": "The organisation the event belongs to",
    }
    data["required"] = [*data.get("required", []), "organisation_id"]
    body: dict[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": name},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": data,
        },
        "required": ["type", "timestamp", "data"],
    }
    if definitions:
        body["$defs"] = definitions
    return EventTypeOut(
        type=name,
        domain=model.spec.domain,
        description=model.__doc__.strip() if model.__doc__ else None,
        payload_schema=body,
    )
