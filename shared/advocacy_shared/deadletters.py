"""Dead letters for an operator: list them, show one, replay it (`advocacy deadletters ...`); and
`advocacy deadletters parked SERVICE`, the outbox rows a service's relay could never publish.

A consumer dead-letters a message onto `<namespace>.deadletter.<consumer>` with headers that name
the reason, the consumer, the original subject, the deliveries and the stream sequence
(`consumers.EventConsumer.dead_letter`). Replaying publishes the original event again on its
original subject, under a new `Nats-Msg-Id` (the event id within the duplicate window would be
dropped), then deletes the dead letter. Every consumer of that subject receives it; those that
applied it already find their inbox row and change nothing, the one that failed applies it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict, dataclass

import nats
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import MetaData

from advocacy_shared.consumers import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    REASON_HEADER,
    SEQUENCE_HEADER,
    SUBJECT_HEADER,
)
from advocacy_shared.db import create_engine, session_factory
from advocacy_shared.envelope import CloudEvent
from advocacy_shared.messaging_tables import messaging_tables
from advocacy_shared.outbox import MSG_ID_HEADER
from advocacy_shared.outbox_records import parked_events
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.topology import Topology


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    """Its sequence in the dead-letter stream: what `show` and `replay` take."""
    consumer: str
    original_subject: str
    reason: str
    deliveries: int
    original_sequence: int
    event_id: str | None
    event_type: str | None
    organisation_id: str | None


def _dead_letter(message: RawStreamMsg) -> DeadLetter:
    headers = message.headers or {}
    try:
        envelope: CloudEvent | None = CloudEvent.from_bytes(message.data or b"")
    except ValidationError:
        envelope = None
    return DeadLetter(
        sequence=int(message.seq or 0),
        consumer=headers.get(CONSUMER_HEADER, ""),
        original_subject=headers.get(SUBJECT_HEADER, ""),
        reason=headers.get(REASON_HEADER, ""),
        deliveries=int(headers.get(DELIVERIES_HEADER, "0")),
        original_sequence=int(headers.get(SEQUENCE_HEADER, "0")),
        event_id=envelope.id if envelope else None,
        event_type=envelope.type if envelope else None,
        organisation_id=envelope.orgid if envelope else None,
    )


class DeadLetters:
    """The dead-letter stream of one platform (namespace)."""

    def __init__(self, js: JetStreamContext, topology: Topology) -> None:
        self.js = js
        self.topology = topology
        self.stream = topology.dead_letter_stream

    async def list(self, consumer: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first; of one consumer when named."""
        state = (await self.js.stream_info(self.stream)).state
        found: list[DeadLetter] = []
        if not state.messages:
            return found
        subject = self.topology.dead_letter_subject(consumer or ">")
        sequence = state.first_seq
        while sequence <= state.last_seq and len(found) < limit:
            try:
                message = await self.js.get_msg(
                    self.stream, seq=sequence, subject=subject, next=True
                )
            except NotFoundError:
                break
            found.append(_dead_letter(message))
            sequence = int(message.seq or sequence) + 1
        return found

    async def show(self, sequence: int) -> tuple[DeadLetter, bytes]:
        """One dead letter and the message as it was received."""
        message = await self.js.get_msg(self.stream, seq=sequence)
        return _dead_letter(message), message.data or b""

    async def replay(self, sequence: int) -> DeadLetter:
        """Publish the message again on its original subject, then delete the dead letter."""
        letter, data = await self.show(sequence)
        if not letter.original_subject:
            raise ValueError(f"dead letter {sequence} does not name its original subject")
        await self.js.publish(
            letter.original_subject,
            data,
            headers={
                MSG_ID_HEADER: f"{letter.event_id or letter.original_sequence}:replay:{sequence}"
            },
        )
        await self.js.delete_msg(self.stream, sequence)
        return letter


def _service_database_url(service: str, settings: ServiceSettings) -> str:
    """The service's database as its own settings would find it (`ADVOCACY_<SERVICE>_...`)."""
    configured = os.environ.get(f"ADVOCACY_{service.upper()}_DATABASE_URL")
    if configured:
        return configured
    return f"sqlite+aiosqlite:///{(settings.data_dir / f'{service}.db').resolve()}"


async def _print_parked(service: str, settings: ServiceSettings, limit: int) -> int:
    engine = create_engine(_service_database_url(service, settings))
    try:
        outbox = messaging_tables(MetaData()).outbox
        for row in await parked_events(session_factory(engine), outbox, limit):
            print(json.dumps(asdict(row), default=str))
    finally:
        await engine.dispose()
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run a `deadletters` subcommand against `NATS_URL`; prints JSON lines."""
    return asyncio.run(_run(args, ServiceSettings()))


async def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    if args.deadletters_command == "parked":
        return await _print_parked(args.service, settings, args.limit)
    nc = await nats.connect(settings.nats_servers())
    try:
        letters = DeadLetters(nc.jetstream(), Topology(settings.namespace))
        if args.deadletters_command == "list":
            for letter in await letters.list(args.consumer, args.limit):
                print(json.dumps(asdict(letter)))
        elif args.deadletters_command == "show":
            letter, data = await letters.show(args.sequence)
            print(json.dumps({**asdict(letter), "message": data.decode(errors="replace")}))
        else:
            letter = await letters.replay(args.sequence)
            print(json.dumps({"replayed": asdict(letter)}))
    except NotFoundError:
        print(f"no dead letter {getattr(args, 'sequence', '')}", file=sys.stderr)
        return 1
    finally:
        await nc.close()
    return 0
