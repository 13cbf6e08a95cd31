"""The outbox and inbox tables, added to each service's own metadata.

Sent outbox rows and inbox rows are pruned after the retention period (`outbox_records.prune`);
parked outbox rows stay until an operator deals with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from advocacy_shared.db import UtcDateTime
from advocacy_shared.idempotency import rpc_idempotency_table


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table
    rpc_idempotency: Table | None = None
    """The Idempotency-Keys of the commands a service answers (advocacy_shared.idempotency)."""


def messaging_tables(metadata: MetaData, *, serves_requests: bool = True) -> MessagingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", String(64), primary_key=True, comment="the event id, sent as Nats-Msg-Id"),
        Column("organisation_id", String(64), nullable=False),
        Column("subject", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Column(
            "parked_at",
            UtcDateTime,
            nullable=True,
            comment="set when the row can never be published; last_error says why",
        ),
        Index("ix_outbox_unpublished", "published_at", "created_at"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(128), nullable=False),
        Column("message_id", String(64), nullable=False),
        Column("organisation_id", String(64), nullable=False),
        Column("received_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("consumer", "message_id", name="pk_inbox"),
        Index("ix_inbox_received_at", "received_at"),
    )
    return MessagingTables(
        outbox=outbox,
        inbox=inbox,
        rpc_idempotency=rpc_idempotency_table(metadata) if serves_requests else None,
    )
