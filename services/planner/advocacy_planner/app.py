"""Wiring of the planner service."""

from __future__ import annotations

from advocacy_planner.handlers import consumers
from advocacy_planner.models import messaging
from advocacy_planner.rpc import server
from advocacy_planner.settings import PlannerSettings
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or PlannerSettings(), messaging, consumers, server)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_planner", PlannerSettings, create_runtime, argv)
