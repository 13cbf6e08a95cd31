from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from advocacy_shared.settings import ServiceSettings, database_url_field


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    required_secrets: ClassVar[tuple[str, ...]] = ("admin_api_key",)

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
    idempotency_hours: float = Field(default=24.0, gt=0)

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"
