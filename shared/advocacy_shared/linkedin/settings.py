"""The LinkedIn app's settings (`ADVOCACY_LINKEDIN_*`): credentials, where LinkedIn is, timeouts.

The base URLs default to LinkedIn's real ones; `advocacy run` points them at the LinkedIn sandbox
when no app is configured (no client id).
"""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

OAUTH_BASE_URL = "https://www.linkedin.com/oauth/v2"
REST_BASE_URL = "https://api.linkedin.com/rest"
V2_BASE_URL = "https://api.linkedin.com/v2"
WEB_BASE_URL = "https://www.linkedin.com"

MEMBER_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "w_member_social",
    "r_member_postAnalytics",
)
"""Sign-in (member id), posting on the member's behalf, and the member's own post analytics."""


class LinkedInSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADVOCACY_LINKEDIN_", extra="ignore", frozen=True, populate_by_name=True
    )

    client_id: str | None = Field(default=None, description="The LinkedIn app's client id")
    client_secret: SecretStr | None = Field(default=None, description="The app's client secret")
    redirect_url: str | None = Field(
        default=None,
        description="The gateway's callback, registered at the app: "
        "<public base URL>/api/v1/linkedin/callback",
    )
    scopes: tuple[str, ...] = MEMBER_SCOPES
    oauth_base_url: str = OAUTH_BASE_URL
    rest_base_url: str = REST_BASE_URL
    v2_base_url: str = V2_BASE_URL
    web_base_url: str = Field(
        default=WEB_BASE_URL,
        description="Where members' browsers see LinkedIn: share links and post permalinks",
    )
    allowed_networks: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Networks LinkedIn's base URLs may resolve to although not public (the "
        'LinkedIn sandbox on loopback: ["127.0.0.1/32"]); every other such address is refused',
    )
    api_version: str = Field(
        default="202506", pattern=r"^\d{6}(\.\d{2})?$", description="`LinkedIn-Version`"
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10, description="Per call, on 429 and 5xx")
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=8.0, ge=0)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.redirect_url)
