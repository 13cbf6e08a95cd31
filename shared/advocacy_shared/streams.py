"""Declares the JetStream streams: one per domain, plus the dead-letter stream."""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, ServerError

from advocacy_shared.settings import ServiceSettings
from advocacy_shared.topology import DOMAINS, Topology

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


def stream_configs(topology: Topology, settings: ServiceSettings) -> list[StreamConfig]:
    configs = [
        StreamConfig(
            name=topology.stream_name(domain),
            subjects=topology.stream_subjects(domain),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType(settings.stream_storage),
            duplicate_window=settings.stream_duplicate_window_seconds,
            num_replicas=settings.stream_replicas,
            max_age=30 * DAY,
        )
        for domain in DOMAINS
    ]
    configs.append(
        StreamConfig(
            name=topology.dead_letter_stream,
            subjects=[topology.dead_letter_subject(">")],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType(settings.stream_storage),
            duplicate_window=settings.stream_duplicate_window_seconds,
            num_replicas=settings.stream_replicas,
            max_age=90 * DAY,
        )
    )
    return configs


async def ensure_streams(
    js: JetStreamContext, topology: Topology, settings: ServiceSettings
) -> None:
    """Create the streams, or bring an existing one to the current configuration."""
    for config in stream_configs(topology, settings):
        try:
            await _add_stream(js, config)
        except BadRequestError:
            log.info("updating stream configuration", extra={"stream": config.name})
            await js.update_stream(config)


STREAM_CREATE_TRIES = 3


async def _add_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """`add_stream`, tried again after a server error (500). The server can fail a creation
    for a moment: seen once in CI, "error creating store for stream" while the server removed
    its account's emptied streams folder as the stream was being created (its log: "mkdir
    .../streams: no such file or directory"). A refusal (400) is not retried."""
    for attempt in range(1, STREAM_CREATE_TRIES + 1):
        try:
            await js.add_stream(config)
            return
        except ServerError:
            if attempt == STREAM_CREATE_TRIES:
                raise
            log.warning("stream creation failed, trying again", extra={"stream": config.name})
            await asyncio.sleep(0.1 * attempt)
