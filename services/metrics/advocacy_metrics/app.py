"""Wiring of the metrics service."""

from __future__ import annotations

from advocacy_metrics.handlers import consumers
from advocacy_metrics.models import messaging
from advocacy_metrics.rpc import server
from advocacy_metrics.settings import MetricsSettings
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or MetricsSettings(), messaging, consumers, server)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_metrics", MetricsSettings, create_runtime, argv)
