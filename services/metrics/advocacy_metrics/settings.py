from __future__ import annotations

from typing import ClassVar

from advocacy_shared.settings import ServiceSettings, database_url_field


class MetricsSettings(ServiceSettings):
    service_name: ClassVar[str] = "metrics"
    database_url: str | None = database_url_field("metrics")
