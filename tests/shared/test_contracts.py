"""Contracts: the envelope, the event registry, subjects and settings. Plain unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from advocacy_ambassadors.settings import AmbassadorsSettings
from advocacy_gateway.settings import GatewaySettings
from advocacy_shared.contracts.base import EVENT_TYPES, EventData, event, newer
from advocacy_shared.contracts.organisations import OrganisationCreated
from advocacy_shared.contracts.planner import GET_PLAYBOOK
from advocacy_shared.crypto import new_key
from advocacy_shared.db import async_url, split_schema
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.topology import Topology


def test_event_subjects_and_types_are_versioned_and_namespaced() -> None:
    spec = OrganisationCreated.spec
    assert spec.type == "advocacy.gateway.organisation.created.v1"
    assert spec.subject(Topology("advocacy")) == "advocacy.gateway.organisation.created.v1"
    assert spec.subject(Topology("t1")) == "t1.gateway.organisation.created.v1"
    assert EVENT_TYPES[spec.type] is OrganisationCreated
    assert GET_PLAYBOOK.subject(Topology("advocacy")) == "advocacy.rpc.planner.playbook.get"


def test_only_a_higher_entity_version_is_newer() -> None:
    assert newer(3, 4)
    assert not newer(3, 3)  # a second fact of the version held changes nothing
    assert not newer(4, 3)
    assert newer(None, 1)  # versionless facts apply in arrival order
    assert newer(2, None)


def test_an_event_name_cannot_be_declared_twice_nor_in_an_unknown_domain() -> None:
    with pytest.raises(ValueError, match="declared twice"):

        @event("gateway", "organisation", "created", 1)
        class Again(EventData):
            pass

    with pytest.raises(ValueError, match="unknown domain"):
        event("nowhere", "thing", "happened", 1)


def test_the_envelope_round_trips_and_refuses_what_cloudevents_does_not_allow() -> None:
    envelope = CloudEvent(
        source="/advocacy/test",
        type="advocacy.gateway.organisation.created.v1",
        data={"a": 1},
        orgid=str(uuid4()),
        correlationid="c-1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    assert CloudEvent.from_bytes(envelope.to_bytes()) == envelope
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**envelope.model_dump(), "specversion": "0.3"})
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**envelope.model_dump(), "traceparent": "nonsense"})
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**envelope.model_dump(), "unknown": "attribute"})


def test_event_data_is_immutable_and_strict() -> None:
    fact = OrganisationCreated(
        organisation_id=uuid4(), name="Acme", slug="acme", created_at=datetime.now(UTC)
    )
    with pytest.raises(ValidationError):
        fact.name = "Other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        OrganisationCreated.model_validate({**fact.model_dump(), "extra": 1})


def test_production_refuses_default_secrets_and_an_embedded_nats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    with pytest.raises(ValidationError, match="production refuses") as raised:
        GatewaySettings(environment="production")
    assert "admin_api_key" in str(raised.value)
    assert "nats_url" in str(raised.value)
    assert "ADVOCACY_GATEWAY_DATABASE_URL" in str(raised.value)
    assert "encryption_keys" in str(raised.value)
    assert "ADVOCACY_GATEWAY_ENCRYPTION_KEYS or ADVOCACY_ENCRYPTION_KEYS" in str(raised.value)
    assert "admin_api_key (ADVOCACY_ADMIN_API_KEY)" in str(raised.value)
    settings = GatewaySettings(
        environment="production",
        admin_api_key="a-real-secret",
        nats_url="nats://nats-1:4222, nats://nats-2:4222",
        database_url="postgresql://db/gateway",
        encryption_keys=new_key(),
    )
    assert settings.nats_servers() == ["nats://nats-1:4222", "nats://nats-2:4222"]
    assert settings.admin_api_key is not None
    assert "a-real-secret" not in repr(settings)  # secrets never show in logs
    with pytest.raises(ValidationError, match=r"production refuses .*stream_storage=file"):
        GatewaySettings.model_validate({**settings.model_dump(), "stream_storage": "memory"})


def test_settings_read_the_documented_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADVOCACY_HTTP_PORT", "9000")
    monkeypatch.setenv("NATS_URL", "nats://example:4222")
    monkeypatch.setenv("ADVOCACY_GATEWAY_DATABASE_URL", "postgresql://db/gateway")
    monkeypatch.setenv("ADVOCACY_DATA_DIR", "/tmp/advocacy-data")
    settings = GatewaySettings()
    assert settings.http_port == 9000
    assert settings.nats_url == "nats://example:4222"
    assert settings.effective_database_url() == "postgresql://db/gateway"
    monkeypatch.delenv("ADVOCACY_GATEWAY_DATABASE_URL")
    assert GatewaySettings().effective_database_url() == (
        "sqlite+aiosqlite:////tmp/advocacy-data/gateway.db"
    )


def test_each_service_may_have_its_own_encryption_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    shared, gateway = new_key(), new_key()
    monkeypatch.setenv("ADVOCACY_ENCRYPTION_KEYS", shared)
    monkeypatch.setenv("ADVOCACY_GATEWAY_ENCRYPTION_KEYS", gateway)
    assert GatewaySettings().secret_keys() == gateway
    assert AmbassadorsSettings().secret_keys() == shared
    monkeypatch.setenv("ADVOCACY_AMBASSADORS_ENCRYPTION_KEYS", "ambassadors-own-keys")
    assert AmbassadorsSettings().secret_keys() == "ambassadors-own-keys"


def test_database_urls_pick_async_drivers_and_an_optional_schema() -> None:
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert split_schema("postgresql+asyncpg://u@h/db?schema=planner") == (
        "postgresql+asyncpg://u@h/db",
        "planner",
    )
    with pytest.raises(ValueError, match="identifier"):
        split_schema("postgresql+asyncpg://u@h/db?schema=a;drop")
