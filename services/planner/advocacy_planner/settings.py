from __future__ import annotations

from typing import ClassVar

from advocacy_shared.settings import ServiceSettings, database_url_field


class PlannerSettings(ServiceSettings):
    service_name: ClassVar[str] = "planner"
    database_url: str | None = database_url_field("planner")
