"""One `advocacy run --demo` for the tests of tests/e2e that need the platform as a newcomer runs
it but do not stop, kill or reconfigure it (the demo, LinkedIn through the sandbox, one trace
across the processes): each works in an organisation of its own, so one platform serves them all
instead of one start (about 20 s of CPU, most of it six processes importing) for each.
The tests that kill or stop a platform (`test_embedded_run.py`) start their own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.live import ROLLUP_INTERVAL, RunningPlatform, running_platform
from tests.otlp_receiver import Receiver, otlp_receiver

SHARED_RATE_LIMIT = "100000"


@dataclass
class SharedPlatform:
    """The running platform and the OTLP receiver its processes export their spans to."""

    running: RunningPlatform
    spans: Receiver


@pytest.fixture(scope="package")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedPlatform]:
    """Torn down when the run leaves tests/e2e (slow tests run first, so right after them in a
    whole run)."""
    folder = tmp_path_factory.mktemp("shared-platform")
    with otlp_receiver() as receiver:
        tracing = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans leave within the test
        }
        with running_platform(
            folder,
            "--demo",
            environment=tracing,
            rollup_interval_seconds=ROLLUP_INTERVAL,
            # The tests share the platform's admin key: together they would spend its default
            # burst (100 requests) and be refused 429s that no one of them provokes alone. The
            # limiter still runs; its own tests start platforms of their own.
            rate_limit_per_minute=SHARED_RATE_LIMIT,
            rate_limit_burst=SHARED_RATE_LIMIT,
        ) as running:
            yield SharedPlatform(running, receiver)
