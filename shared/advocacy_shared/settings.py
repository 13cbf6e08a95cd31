"""The settings base of every service: `ADVOCACY_` prefix; production refuses default secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NAMESPACE = "advocacy"


class InsecureSettingsError(ValueError):
    """Raised when production settings still carry a default or missing secret."""


class ServiceSettings(BaseSettings):
    """Settings shared by every process of the platform.

    `namespace` is the root token of every subject and stream name: several isolated platforms
    (test runs, staging beside production) can share one NATS cluster by using different ones.
    """

    model_config = SettingsConfigDict(
        env_prefix="ADVOCACY_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: ClassVar[str] = "service"
    required_secrets: ClassVar[tuple[str, ...]] = ()

    environment: Literal["development", "production"] = "development"
    namespace: str = Field(default=DEFAULT_NAMESPACE, pattern=r"^[a-z][a-z0-9_]{0,30}$")
    nats_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ADVOCACY_NATS_URL", "NATS_URL")
    )
    data_dir: Path = Path(".advocacy-data")
    log_level: str = "INFO"
    log_json: bool = True

    rpc_timeout_seconds: float = Field(default=5.0, gt=0)
    nats_reconnect_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How long a NATS connection waits between attempts to reconnect (nats-py's "
        "default); until one succeeds the gateway answers 503 and events wait in the outboxes",
    )
    rpc_max_workers: int = Field(default=16, ge=1)
    relay_interval_seconds: float = Field(default=1.0, gt=0)
    relay_batch_size: int = Field(default=200, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_seconds: tuple[float, ...] = (0.5, 2.0, 10.0, 60.0)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    stream_duplicate_window_seconds: float = Field(default=900.0, gt=0)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    stream_storage: Literal["file", "memory"] = Field(
        default="file",
        description="Where JetStream keeps the streams. memory loses every event nats-server "
        "holds when it stops: for tests, which make and delete streams by the hundred (60 "
        "rounds of six streams cost nats-server 0.27 s of CPU in memory, 0.9-1.8 s on files), "
        "never for production, which refuses it",
    )
    messaging_retention_seconds: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Sent outbox rows and inbox rows older than this are pruned; it must exceed "
        "the duplicate window, inside which JetStream alone drops a second publish",
    )

    database_url: str | None = None

    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve Prometheus /metrics of this process on this port (unset: no "
        "listener; 0: any free port). `advocacy run` gives each process its own from this base",
    )
    metrics_host: str = Field(default="0.0.0.0", description="Where the metrics listener binds")  # noqa: S104
    metrics_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often consumer lag (JetStream consumer info) and the outbox's backlog "
        "are sampled for /metrics: a few calls per interval, never one per message",
    )

    @model_validator(mode="after")
    def _retention_outlives_the_duplicate_window(self) -> ServiceSettings:
        if self.messaging_retention_seconds <= self.stream_duplicate_window_seconds:
            raise ValueError(
                "messaging_retention_seconds must exceed stream_duplicate_window_seconds"
            )
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        problems = [
            f"{name} ({self._environment_names(name)})"
            for name in self.required_secrets
            if not _is_set(getattr(self, name))
        ]
        if self.nats_url is None:
            problems.append("nats_url (production never starts an embedded nats-server)")
        if self.stream_storage != "file":
            problems.append("stream_storage=file (streams in memory lose events on a restart)")
        if not self.database_url:
            problems.append(
                f"ADVOCACY_{self.service_name.upper()}_DATABASE_URL (no SQLite in production)"
            )
        if problems:
            raise InsecureSettingsError(
                "production refuses to start without explicit values for: " + ", ".join(problems)
            )
        return self

    @classmethod
    def _environment_names(cls, field: str) -> str:
        """The variables a field is read from, as an operator would set them."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return " or ".join(str(choice) for choice in alias.choices)
        return str(alias) if isinstance(alias, str) else f"ADVOCACY_{field.upper()}"

    def effective_database_url(self) -> str:
        """The configured database, else a SQLite file of this service in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"

    def nats_servers(self) -> list[str]:
        """The NATS servers to try: `NATS_URL` may list several, separated by commas."""
        if not self.nats_url:
            raise RuntimeError("NATS_URL is not set: start the platform with `advocacy run`")
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]


def _is_set(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def database_url_field(service: str) -> Any:
    """A `database_url` field read from `ADVOCACY_<SERVICE>_DATABASE_URL`."""
    return Field(default=None, validation_alias=f"ADVOCACY_{service.upper()}_DATABASE_URL")


def encryption_keys_field(service: str, sealing: str) -> Any:
    """An `encryption_keys` field read from `ADVOCACY_<SERVICE>_ENCRYPTION_KEYS`, else
    `ADVOCACY_ENCRYPTION_KEYS`: each service may have its own keys, as it has its own database,
    while one process (`advocacy run`, a migration job) can hold every service's settings."""
    return Field(
        default=None,
        validation_alias=AliasChoices(
            f"ADVOCACY_{service.upper()}_ENCRYPTION_KEYS", "ADVOCACY_ENCRYPTION_KEYS"
        ),
        description=f"Fernet keys, comma-separated, the first one sealing: {sealing}. In "
        "development a key is made once and kept in the data folder",
    )
