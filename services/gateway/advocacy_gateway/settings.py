from __future__ import annotations

from typing import ClassVar

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator

from advocacy_shared.crypto import development_key
from advocacy_shared.settings import (
    InsecureSettingsError,
    ServiceSettings,
    database_url_field,
    encryption_keys_field,
)

LINKEDIN_CALLBACK_PATH = "/api/v1/linkedin/callback"
"""Where LinkedIn sends a member back after consent (`routes.linkedin`); here, not there, so that
`advocacy run` builds the redirect URL without importing every route."""


OWASP_MINIMUM_MEMORY_KIB = 19 * 1024
OWASP_MINIMUM_TIME_COST = 2
"""Argon2id's least configuration in OWASP's Password Storage Cheat Sheet (19 MiB, 2 iterations)."""


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    required_secrets: ClassVar[tuple[str, ...]] = ("admin_api_key", "encryption_keys")

    database_url: str | None = database_url_field("gateway")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    admin_api_key: SecretStr | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    cookie_secure: bool | None = Field(
        default=None, description="Secure cookies; by default in production only (HTTPS)"
    )
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_burst: int = Field(default=100, ge=1)
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Networks of reverse proxies whose X-Forwarded-For names the source address "
        '(rate limits, login throttling), as JSON: ["10.0.0.0/8"]; none by default',
    )
    idempotency_hours: float = Field(default=24.0, gt=0)
    password_hash_time_cost: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Argon2id iterations of a new password hash. The defaults are RFC 9106's "
        "low-memory profile; a hash keeps the parameters it was made with, so every existing one "
        "still verifies after a change, and is made again at its account's next sign-in",
    )
    password_hash_memory_kib: int = Field(
        default=64 * 1024,
        ge=8,
        le=4 * 1024 * 1024,
        description="Argon2id memory of a new password hash, in KiB; below OWASP's minimum "
        "(19 MiB, 2 iterations) production refuses to start and development warns",
    )
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    bi_export_settle_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="A BI export ends this long before now (its `until`), so that the rows of "
        "transactions still open, or stamped by a replica whose clock runs behind, are not "
        "skipped by the next export from that `until`",
    )
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long a replica keeps a looked-up API key or organisation: a key "
        "revoked on another replica stops working here within this time (0: not kept)",
    )
    idempotency_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a request holds its Idempotency-Key before a retry may take it "
        "over (a gateway that crashed mid-request); longer than any request runs",
    )
    retention_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often expired sessions, sign-in attempts and idempotency records go",
    )
    sso_max_pending_attempts: int = Field(
        default=5000,
        ge=1,
        description="Per organisation: single sign-ons begun and not yet finished or expired; "
        "past it a start is refused (each start writes a row, without a credential)",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Where browsers reach the gateway (for single sign-on redirects); "
        "http://<host>:<port> by default",
    )
    encryption_keys: SecretStr | None = encryption_keys_field(
        "gateway", "secrets at rest (SSO client secrets, webhook secrets, kept answers)"
    )

    webhooks_allow_private_targets: bool = Field(
        default=False,
        description="Deliver to private, link-local and reserved addresses (a private network)",
    )
    webhooks_allow_loopback: bool | None = Field(
        default=None, description="Deliver to loopback addresses; by default in development only"
    )
    outbound_allowed_networks: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Networks the gateway may fetch from although they are not public (an "
        "internal identity provider, a webhook receiver on the private network), as JSON: "
        '["10.20.0.0/16"]; webhooks and single sign-on share this guard',
    )
    webhooks_retry_delays_seconds: tuple[float, ...] = Field(
        default=(5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0),
        description="Delay before each retry; the first attempt is immediate. The default spans "
        "27.6 hours (Standard Webhooks' schedule): 8 attempts, then the delivery has failed",
    )
    webhooks_retry_jitter: float = Field(
        default=0.1, ge=0, le=0.5, description="Random spread of retry delays, as a fraction"
    )
    webhooks_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhooks_poll_seconds: float = Field(default=1.0, gt=0)
    webhooks_batch_size: int = Field(default=50, ge=1)
    webhooks_max_concurrency: int = Field(default=10, ge=1)
    webhooks_disable_after_seconds: float = Field(
        default=5 * 24 * 3600.0,
        gt=0,
        description="How long an endpoint fails before it is disabled",
    )
    webhooks_disable_min_failures: int = Field(
        default=10, ge=1, description="Consecutive failed attempts needed to disable an endpoint"
    )
    webhooks_max_endpoints: int = Field(default=50, ge=1, description="Per organisation")

    @property
    def public_url(self) -> str:
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"

    def secret_keys(self) -> str:
        if self.encryption_keys is not None:
            return self.encryption_keys.get_secret_value()
        return development_key(self.data_dir)

    @property
    def weak_password_hashing(self) -> bool:
        """Below OWASP's least Argon2id configuration: for tests and development only."""
        return (
            self.password_hash_memory_kib < OWASP_MINIMUM_MEMORY_KIB
            or self.password_hash_time_cost < OWASP_MINIMUM_TIME_COST
        )

    @model_validator(mode="after")
    def _refuse_weak_password_hashing_in_production(self) -> GatewaySettings:
        if self.environment == "production" and self.weak_password_hashing:
            raise InsecureSettingsError(
                "production refuses password hashes weaker than OWASP's minimum: "
                f"ADVOCACY_PASSWORD_HASH_MEMORY_KIB >= {OWASP_MINIMUM_MEMORY_KIB} and "
                f"ADVOCACY_PASSWORD_HASH_TIME_COST >= {OWASP_MINIMUM_TIME_COST}"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    @property
    def webhooks_loopback_allowed(self) -> bool:
        if self.webhooks_allow_loopback is not None:
            return self.webhooks_allow_loopback
        return self.environment == "development"
