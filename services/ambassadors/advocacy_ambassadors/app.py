"""Wiring of the ambassadors service."""

from __future__ import annotations

from advocacy_ambassadors.handlers import consumers
from advocacy_ambassadors.models import messaging
from advocacy_ambassadors.rpc import server
from advocacy_ambassadors.settings import AmbassadorsSettings
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or AmbassadorsSettings(), messaging, consumers, server)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_ambassadors", AmbassadorsSettings, create_runtime, argv)
