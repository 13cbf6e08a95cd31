"""Wiring of the ambassadors service."""

from __future__ import annotations

import logging
from datetime import timedelta

from advocacy_ambassadors.handlers import consumers
from advocacy_ambassadors.models import messaging
from advocacy_ambassadors.rpc import linkedin_wiring, server
from advocacy_ambassadors.service.linkedin import LinkedInWiring, sweep_linkedin
from advocacy_ambassadors.settings import AmbassadorsSettings
from advocacy_shared.crypto import SecretBox
from advocacy_shared.lifecycle import first_pass_in, pause
from advocacy_shared.linkedin import LinkedInClient
from advocacy_shared.runtime import ServiceRuntime
from advocacy_shared.service_main import service_main
from advocacy_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def create_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    settings = settings or AmbassadorsSettings()
    assert isinstance(settings, AmbassadorsSettings)
    linkedin_wiring.wiring = LinkedInWiring(
        client=LinkedInClient(settings.linkedin),
        secrets=SecretBox(settings.secret_keys()),
        state_lifetime=timedelta(minutes=settings.linkedin_state_minutes),
        expiring_within=timedelta(days=settings.linkedin_expiring_days),
    )
    return ServiceRuntime(settings, messaging, consumers, server, background=[linkedin_sweep])


async def linkedin_sweep(runtime: ServiceRuntime) -> None:
    """Every `linkedin_sweep_seconds`: expiring connections are announced, expired ones marked."""
    settings = runtime.settings
    assert isinstance(settings, AmbassadorsSettings)
    expiring_within = timedelta(days=settings.linkedin_expiring_days)
    await pause(first_pass_in(settings.linkedin_sweep_seconds))
    while True:
        try:
            async with runtime.transaction() as session:
                swept = await sweep_linkedin(session, runtime.outbox, expiring_within)
            if swept.expiring or swept.expired:
                log.info(
                    "LinkedIn connections swept",
                    extra={"expiring": swept.expiring, "expired": swept.expired},
                )
        except Exception:
            log.exception("LinkedIn expiry sweep failed; trying again at the next interval")
        await pause(settings.linkedin_sweep_seconds)


def main(argv: list[str] | None = None) -> None:
    service_main("advocacy_ambassadors", AmbassadorsSettings, create_runtime, argv)
