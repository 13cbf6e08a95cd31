from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from advocacy_shared.crypto import development_key
from advocacy_shared.linkedin.settings import LinkedInSettings
from advocacy_shared.settings import ServiceSettings, database_url_field, encryption_keys_field


class AmbassadorsSettings(ServiceSettings):
    service_name: ClassVar[str] = "ambassadors"
    required_secrets: ClassVar[tuple[str, ...]] = ("encryption_keys",)

    database_url: str | None = database_url_field("ambassadors")
    encryption_keys: SecretStr | None = encryption_keys_field(
        "ambassadors", "LinkedIn tokens at rest"
    )
    linkedin: LinkedInSettings = Field(
        default_factory=LinkedInSettings, description="The LinkedIn app (ADVOCACY_LINKEDIN_*)"
    )
    linkedin_state_minutes: float = Field(
        default=10.0, gt=0, le=60, description="How long an authorization link works"
    )
    linkedin_expiring_days: float = Field(
        default=7.0, ge=0, description="Ask for reconnection this long before the token expires"
    )
    linkedin_sweep_seconds: float = Field(
        default=3600.0, gt=0, description="How often connections are checked for expiry"
    )

    def secret_keys(self) -> str:
        if self.encryption_keys is not None:
            return self.encryption_keys.get_secret_value()
        return development_key(self.data_dir)
