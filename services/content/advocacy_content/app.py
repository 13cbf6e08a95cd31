"""Wiring of the content service."""

from __future__ import annotations

from advocacy_content.handlers import consumers
from advocacy_content.models import messaging
from advocacy_content.rpc import server
from advocacy_content.settings import ContentSettings
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or ContentSettings(), messaging, consumers, server)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_content", ContentSettings, create_runtime, argv)
