"""Durable event consumers: inbox dedup, ack after commit, bounded retries, then dead letter.

Every subscription is a durable JetStream pull consumer, so replicas of a service share the work.
A message is applied in one transaction together with its inbox row (consumer, event id); the ack
is sent only after that transaction commits. A redelivery, or a second publish of the same event,
finds the inbox row and changes nothing. A handler that fails is negatively acknowledged with a
backoff delay; after `max_attempts` deliveries the message goes to the dead-letter stream with its
reason, and is acknowledged so that later messages keep flowing. A message that cannot be decoded is
dead-lettered at once: retrying cannot mend it. A consumer of a whole domain skips (logs and acks)
an event type it does not know, as a newer publisher's type during a rolling deploy.

What an event costs (docs/performance.md, "The write and its fan-out"): on PostgreSQL BEGIN, the
inbox row claimed in one statement, the handler's statements, COMMIT; the relay and any worker are
woken only after a commit that asks (`wants_wake`); an event the consumer's `wanted` declines is
acked after one read, with nothing written.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, cast

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import ValidationError, create_model
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from advocacy_shared import tracing
from advocacy_shared.contracts import EVENT_TYPES
from advocacy_shared.contracts.base import EventData
from advocacy_shared.db import LeanStatement, read_session_factory, statement_session_factory
from advocacy_shared.envelope import CloudEvent, utc_now
from advocacy_shared.logs import correlation_id_var, organisation_id_var, traceparent_var
from advocacy_shared.outbox import added_events
from advocacy_shared.settings import ServiceSettings
from advocacy_shared.telemetry import CONSUMER_MESSAGES, labelled
from advocacy_shared.topology import Topology

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
Wanted = Callable[[AsyncSession, Any, CloudEvent], Awaitable[bool]]
"""Whether an event has work for its handler, asked in a read session before any transaction:
an event that has none is acknowledged without a transaction and without an inbox row."""
BatchHandler = Callable[[AsyncSession, list[tuple[Any, CloudEvent]]], Awaitable[None]]
"""Applies a whole batch of new (not yet seen) events in the batch's transaction."""

REASON_HEADER = "Advocacy-Dead-Letter-Reason"
CONSUMER_HEADER = "Advocacy-Consumer"
SUBJECT_HEADER = "Advocacy-Original-Subject"
DELIVERIES_HEADER = "Advocacy-Deliveries"
SEQUENCE_HEADER = "Advocacy-Stream-Sequence"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    """No work for the handler (`Wanted`): nothing written, not even the inbox row."""


_WAKE = "advocacy_wake_after_commit"


def wake_after_commit(session: AsyncSession) -> None:
    """Ask for the consumer's `after_commit` after this transaction commits: a handler that left
    work for a worker of its process (webhook deliveries) says so. A transaction that added
    outbox events asks by itself (`outbox.added_events`); one that did neither wakes nothing."""
    session.info[_WAKE] = True


def wants_wake(session: AsyncSession) -> bool:
    """Whether the committed transaction of `session` asked for the wake-ups after a commit."""
    return added_events(session) or bool(session.info.get(_WAKE))


class MalformedEvent(Exception):
    """The message is not a valid event of the subscribed type."""


class UnknownEventType(MalformedEvent):
    """A type this consumer's registry does not know (a newer publisher during a rolling deploy)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: Sequence[float] = (0.5, 2.0, 10.0, 60.0)
    ack_wait: float = 30.0

    @classmethod
    def of(cls, settings: ServiceSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.consumer_max_attempts,
            backoff=settings.consumer_backoff_seconds,
            ack_wait=settings.consumer_ack_wait_seconds,
        )

    def delay(self, delivered: int) -> float:
        if not self.backoff:
            return 0.0
        return self.backoff[min(delivered, len(self.backoff)) - 1]


@dataclass
class EventConsumer:
    """One durable consumer of one event type, applying it with one handler."""

    durable: str
    stream: str
    subject: str
    models: Mapping[str, type[EventData]]
    """The event types this consumer accepts, by CloudEvents type."""
    handler: Handler
    sessions: async_sessionmaker[AsyncSession]
    inbox: Table
    topology: Topology
    policy: RetryPolicy
    after_commit: Callable[[], None] = lambda: None
    """Run after a commit that asked for it (`wants_wake`): the outbox relay, a worker."""
    js: JetStreamContext | None = field(default=None)
    skip_unknown_types: bool = False
    """A consumer of a whole domain acks a type it does not know instead of dead-lettering it."""
    batch_size: int = 1
    """Over 1: run by `batch_consumers.BatchConsumer`, that many messages per transaction."""
    batch_handler: BatchHandler | None = None
    """When set, the batch consumer hands it every new event of a batch at once (bulk writes);
    `handler` then applies one event through it (the one-at-a-time fallback)."""
    idempotent: bool = False
    """The batch handler is idempotent on a key of its own (applying an event twice changes
    nothing): the batch consumer writes no inbox rows for it (the fallback still does)."""
    writers: int = 1
    """Batches of an idempotent batch handler written at once, each in its own transaction
    (`batch_consumers.BatchConsumer`): over 1, a batch that comes while one is written does not
    wait for its commit."""
    wanted: Wanted | None = None
    """Asked before the transaction; an event it declines is acked as `Outcome.SKIPPED`."""
    one_statement: bool = False
    """The idempotent batch handler writes a batch with one statement, atomic on its own: on
    PostgreSQL the batch consumer runs it in a `SingleStatementSession`, without BEGIN and COMMIT
    (`statement_sessions`)."""
    _read_sessions: async_sessionmaker[AsyncSession] | None = field(
        default=None, init=False, repr=False
    )
    _statement_sessions: async_sessionmaker[AsyncSession] | None = field(
        default=None, init=False, repr=False
    )
    _claim: LeanStatement | None = field(default=None, init=False, repr=False)

    def consumer_config(self) -> Any:
        # Built with nats-py's own ConsumerConfig, which is what FastStream re-exports.
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.subject,
            ack_policy=JsAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.policy.ack_wait,
            # The server's bound sits above ours, so that a crash between dead-lettering and
            # acking still gets one more delivery; we dead-letter at `max_attempts`.
            max_deliver=self.policy.max_attempts + 2,
            # A batch consumer holds a whole batch unacknowledged until its commit: each of its
            # writers one, and the next one fetched meanwhile.
            max_ack_pending=max(1000, (self.writers + 1) * self.batch_size),
        )

    async def ensure(self, js: JetStreamContext) -> None:
        """Create the durable consumer or update its editable fields.

        The server keeps an existing durable's config unless told: adding it again updates what is
        editable; a change that is not (the filter, the deliver policy) recreates the consumer, and
        the inbox absorbs the redeliveries that follow.
        """
        self.js = js
        config = self.consumer_config()
        try:
            await js.add_consumer(self.stream, config)
        except BadRequestError:
            log.warning(
                "recreating consumer with a changed config", extra={"consumer": self.durable}
            )
            await js.delete_consumer(self.stream, self.durable)
            await js.add_consumer(self.stream, config)

    def attach(self, broker: NatsBroker) -> None:
        broker.subscriber(
            self.subject,
            stream=JStream(self.stream, declare=False),
            durable=self.durable,
            config=self.consumer_config(),
            # One message a fetch: nats-py 2.16 raises a bare asyncio.TimeoutError from batch
            # fetches that find nothing, which FastStream 0.7.8 does not suppress.
            pull_sub=PullSub(batch_size=1, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_message,
            title=self.durable,
        )(self._on_message)

    async def _on_message(self, raw: Any) -> None:
        """The delivered message itself, as `_raw_message` decodes it. Not FastStream's
        `NatsMessage` context field: FastStream resolves a context field with a synchronous
        function, which its dependency injection runs in a worker thread, a thread hop for
        every message."""
        await self.handle(raw)

    async def handle(self, raw: Msg) -> None:
        """Apply a delivered message and settle it: ack, nak with backoff, or dead-letter."""
        if not tracing.active:
            outcome = await self._settle(raw)
        else:
            with tracing.span(
                f"process {self.durable}",
                "consumer",
                parent=_traceparent_of(raw),
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": raw.subject,
                    "messaging.consumer.group.name": self.durable,
                },
            ) as span:
                outcome = await self._settle(raw)
                span.set_attribute("advocacy.outcome", outcome)
        labelled(CONSUMER_MESSAGES, self.durable, outcome).inc()

    async def _settle(self, raw: Msg) -> str:
        """Apply and settle; returns the outcome as metrics count it."""
        delivered = raw.metadata.num_delivered
        try:
            outcome = await self.apply(raw)
        except UnknownEventType as exc:
            settled = "skipped"
            if not self.skip_unknown_types:
                await self.dead_letter(raw, f"malformed event: {exc}")
                settled = "dead_lettered"
            else:
                log.warning(
                    "skipping an event type this consumer does not know",
                    extra={"consumer": self.durable, "reason": str(exc)},
                )
            await raw.ack()
            return settled
        except MalformedEvent as exc:
            await self.dead_letter(raw, f"malformed event: {exc}")
            await raw.ack()
            return "dead_lettered"
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            if delivered >= self.policy.max_attempts:
                await self.dead_letter(raw, f"handler failed {delivered} times; last: {reason}")
                await raw.ack()
                return "dead_lettered"
            log.warning(
                "event handler failed, will retry",
                extra={"consumer": self.durable, "deliveries": delivered, "error": reason},
            )
            await raw.nak(delay=self.policy.delay(delivered))
            return "failed"
        await raw.ack()
        log.debug("event settled", extra={"consumer": self.durable, "outcome": outcome.value})
        return outcome.value

    async def apply(self, raw: Msg) -> Outcome:
        """Apply the event in one transaction with its inbox row; does not settle the message.

        Round trips to the database: BEGIN, the inbox row claimed in one statement (on
        PostgreSQL; a redelivery finds it taken), the handler's own, COMMIT. An event that
        `wanted` declines costs one read and writes nothing."""
        envelope, data = self.decode(raw.data)
        correlation_id_var.set(envelope.correlationid)
        organisation_id_var.set(envelope.orgid)
        traceparent_var.set(envelope.traceparent)
        if self.wanted is not None and not await self.has_work(data, envelope):
            return Outcome.SKIPPED
        async with self.sessions() as session, session.begin():
            if not await self.claim(session, envelope):
                return Outcome.DUPLICATE
            await self.handler(session, data, envelope)
        if wants_wake(session):
            self.after_commit()
        return Outcome.APPLIED

    async def has_work(self, data: EventData, envelope: CloudEvent) -> bool:
        """`wanted`'s answer, read without a transaction (it sees committed rows only)."""
        assert self.wanted is not None
        if self._read_sessions is None:
            self._read_sessions = read_session_factory(_engine_of(self.sessions))
        async with self._read_sessions() as session:
            return await self.wanted(session, data, envelope)

    def statement_sessions(self) -> async_sessionmaker[AsyncSession] | None:
        """Sessions for a batch of a `one_statement` handler on PostgreSQL; None elsewhere (the
        batch then runs in a transaction)."""
        engine = _engine_of(self.sessions)
        if not (self.one_statement and self.idempotent) or engine.dialect.name == "sqlite":
            return None
        if self._statement_sessions is None:
            self._statement_sessions = statement_session_factory(engine)
        return self._statement_sessions

    async def claim(self, session: AsyncSession, envelope: CloudEvent) -> bool:
        """Write the event's inbox row in `session`'s transaction; False when it is there
        already (a redelivery, a second publish). On PostgreSQL one statement (ON CONFLICT DO
        NOTHING RETURNING): a replica applying the same event at the same time waits on the
        row, then finds it taken; elsewhere a look, then the row."""
        row = {
            "consumer": self.durable,
            "message_id": envelope.id,
            "organisation_id": envelope.orgid,
            "received_at": utc_now(),
        }
        if session.get_bind().dialect.name == "postgresql":
            return await self._claim_statement().first(session, **row) is not None
        if await self._seen(session, envelope.id):
            return False
        await session.execute(self.inbox.insert(), row)
        return True

    def _claim_statement(self) -> LeanStatement:
        """Built once, its values bound at each call (building a statement around each event's
        values cost more CPU than running it), and run on the transaction's own connection
        (`transaction_driver`)."""
        if self._claim is None:
            self._claim = LeanStatement(
                postgresql.insert(self.inbox)
                .on_conflict_do_nothing()
                .returning(self.inbox.c.message_id)
            )
        return self._claim

    def decode(self, payload: bytes) -> tuple[CloudEvent, EventData]:
        try:
            envelope = CloudEvent.from_bytes(payload)
        except ValidationError as exc:
            raise MalformedEvent(_summary(exc)) from exc
        model = self.models.get(envelope.type)
        if model is None:
            raise UnknownEventType(f"type {envelope.type!r} is not one this consumer accepts")
        try:
            data = model.model_validate(envelope.data)
        except ValidationError as exc:
            raise MalformedEvent(_summary(exc)) from exc
        return envelope, data

    def decode_one_type(self, payload: bytes) -> tuple[CloudEvent, EventData]:
        """As `decode`, in one validation of the JSON where the consumer takes one event type
        (about a third less than two: the envelope, then its data). The envelope's `data` is then
        the data model, not a dict: for the batch path, whose handlers get the data apart. Any
        problem goes through `decode`, which names it as usual."""
        if len(self.models) == 1:
            (model,) = self.models.values()
            typed, event_type = typed_envelope(model)
            try:
                envelope = typed.model_validate_json(payload)
            except ValidationError:
                pass
            else:
                if envelope.type == event_type:
                    return envelope, cast(EventData, envelope.data)
        return self.decode(payload)

    async def _seen(self, session: AsyncSession, message_id: str) -> bool:
        query = select(self.inbox.c.message_id).where(
            self.inbox.c.consumer == self.durable, self.inbox.c.message_id == message_id
        )
        return (await session.execute(query)).first() is not None

    async def dead_letter(self, raw: Msg, reason: str) -> None:
        if self.js is None:
            raise RuntimeError("consumer is not started")
        metadata = raw.metadata
        await self.js.publish(
            self.topology.dead_letter_subject(self.durable),
            raw.data,
            headers={
                "Nats-Msg-Id": f"{self.durable}:{metadata.sequence.stream}",
                REASON_HEADER: reason,
                CONSUMER_HEADER: self.durable,
                SUBJECT_HEADER: raw.subject,
                DELIVERIES_HEADER: str(metadata.num_delivered),
                SEQUENCE_HEADER: str(metadata.sequence.stream),
            },
        )
        log.error(
            "event dead-lettered",
            extra={
                "consumer": self.durable,
                "reason": reason,
                "stream_seq": metadata.sequence.stream,
            },
        )


async def _raw_message(message: Any) -> Msg:
    """FastStream's decoder of the consumers: the nats-py message, undecoded (an `async`
    decoder: FastStream runs a synchronous one in a worker thread)."""
    return cast(Msg, message.raw_message)


@cache
def typed_envelope(model: type[EventData]) -> tuple[type[CloudEvent], str]:
    """A CloudEvent whose `data` is validated as `model` with the envelope, and its `type`."""
    typed = create_model(f"{model.__name__}Event", __base__=CloudEvent, data=(model, ...))
    return typed, model.spec.type


def _engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("a consumer's session factory must be bound to an engine")
    return engine


def _traceparent_of(raw: Msg) -> str | None:
    """The trace a delivered event continues: the publish's (NATS header), else the event's own
    CloudEvents extension (a message published without the header, a replayed dead letter)."""
    header = (raw.headers or {}).get(tracing.TRACEPARENT)
    return header or tracing.in_event(raw.data)


def _summary(exc: ValidationError) -> str:
    """Field paths and messages only: never the input values, which may be personal data."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_input=False)
    )[:1000]


@dataclass(frozen=True)
class _Declared:
    durable: str
    domain: str
    model: type[EventData] | None  # None: every event type of the domain
    handler: Handler
    batch_size: int = 1
    batch_handler: BatchHandler | None = None
    idempotent: bool = False
    wanted: Wanted | None = None
    writers: int = 1
    one_statement: bool = False

    def subject(self, topology: Topology) -> str:
        if self.model is None:
            return topology.event_subject(self.domain, ">")
        return self.model.spec.subject(topology)

    def models(self) -> dict[str, type[EventData]]:
        if self.model is None:
            return {t: m for t, m in EVENT_TYPES.items() if m.spec.domain == self.domain}
        return {self.model.spec.type: self.model}


class EventConsumers:
    """The event subscriptions of one service, declared in its handlers module."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._declared: list[_Declared] = []

    def on(self, model: type[EventData], batch_size: int = 1) -> Callable[[Handler], Handler]:
        """Subscribe a handler to one event type; `batch_size` > 1 for high-volume subjects
        applies up to that many messages in one transaction (`batch_consumers`)."""

        def register(handler: Handler) -> Handler:
            durable = f"{self.service}_{handler.__name__}"
            self._declared.append(_Declared(durable, model.spec.domain, model, handler, batch_size))
            return handler

        return register

    def on_batches(
        self,
        model: type[EventData],
        batch_size: int,
        *,
        idempotent: bool = False,
        writers: int = 1,
        one_statement: bool = False,
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Subscribe a handler that applies a whole batch of one event type at once (up to
        `batch_size` messages a transaction, with their inbox rows written in one statement):
        for subjects where per-event statements would cost too much.

        `idempotent`: the handler itself makes a second application of an event change nothing
        (it stores by a natural key, ON CONFLICT DO NOTHING, and only moves values forward), so
        the batches write no inbox rows: at thousands of events a second the inbox would be the
        largest table and half the work.

        `writers` > 1 (idempotent handlers only: their batches may commit in any order) writes
        up to that many batches at once, each in its own transaction and acked after its own
        commit, so that under a trickle a batch does not wait for the previous one's commit.

        `one_statement` (idempotent handlers only): the handler writes a whole batch with one
        statement, which is atomic by itself, so on PostgreSQL the batch runs without BEGIN and
        COMMIT, one round trip instead of three (the one-at-a-time fallback still runs in a
        transaction). A handler that made two statements would commit them apart."""
        if batch_size < 2:
            raise ValueError("a batch handler wants batch_size >= 2")
        if writers < 1 or (writers > 1 and not idempotent):
            raise ValueError("writers > 1 wants an idempotent batch handler")
        if one_statement and not idempotent:
            raise ValueError("one_statement wants an idempotent batch handler (no inbox rows)")

        def register(batch_handler: BatchHandler) -> BatchHandler:
            async def one(session: AsyncSession, data: Any, envelope: CloudEvent) -> None:
                await batch_handler(session, [(data, envelope)])

            durable = f"{self.service}_{batch_handler.__name__}"
            self._declared.append(
                _Declared(
                    durable,
                    model.spec.domain,
                    model,
                    one,
                    batch_size,
                    batch_handler,
                    idempotent,
                    writers=writers,
                    one_statement=one_statement,
                )
            )
            return batch_handler

        return register

    def on_every_event_of(
        self, domain: str, *, wanted: Wanted | None = None
    ) -> Callable[[Handler], Handler]:
        """Subscribe a handler to every event type a domain publishes (webhooks, audit trails).

        The handler gets each event's validated data model; a type the registry does not know is
        skipped with a log line (and acked): a newer service may publish it before this one knows.
        `wanted`, when given, is asked first, in a read session: an event it declines is acked
        with nothing written (no transaction, no inbox row). It must decline only events whose
        handler would write nothing: a redelivery of a declined event is asked again, so an
        effect still happens at most once.
        """

        def register(handler: Handler) -> Handler:
            durable = f"{self.service}_{handler.__name__}_{domain}"
            self._declared.append(_Declared(durable, domain, None, handler, wanted=wanted))
            return handler

        return register

    def build(
        self,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        topology: Topology,
        policy: RetryPolicy,
        after_commit: Callable[[], None],
    ) -> list[EventConsumer]:
        return [
            EventConsumer(
                durable=declared.durable,
                stream=topology.stream_name(declared.domain),
                subject=declared.subject(topology),
                models=declared.models(),
                handler=declared.handler,
                sessions=sessions,
                inbox=inbox,
                topology=topology,
                policy=policy,
                after_commit=after_commit,
                skip_unknown_types=declared.model is None,
                batch_size=declared.batch_size,
                batch_handler=declared.batch_handler,
                idempotent=declared.idempotent,
                wanted=declared.wanted,
                writers=declared.writers,
                one_statement=declared.one_statement,
            )
            for declared in self._declared
        ]
