from __future__ import annotations

from typing import ClassVar

from advocacy_shared.settings import ServiceSettings, database_url_field


class AmbassadorsSettings(ServiceSettings):
    service_name: ClassVar[str] = "ambassadors"
    database_url: str | None = database_url_field("ambassadors")
