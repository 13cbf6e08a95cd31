"""Commands applied once end to end: the caller's Idempotency-Key travels with the request, and
the service records it, with its reply, in the command's own transaction.

A request that times out at the gateway may still commit at the service; only the service can
tell a retry from a new command, and only if it records the key in the transaction that applies
the command. The gateway sends two values derived from the credential and its key, never the key
itself: `key_hash` names the record; `seal_key` encrypts the stored reply (which may hold a secret
shown once, such as an invitation token), so that a reply at rest can be read only by a retry that
presents the same key again. A record is kept per organisation, key and operation; the same key
with another request of that operation is refused. Records expire after `RETENTION`.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import (
    Column,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from advocacy_shared.contracts.base import Operation, RpcReply, RpcRequest
from advocacy_shared.contracts.errors import Conflict
from advocacy_shared.db import UtcDateTime
from advocacy_shared.envelope import utc_now

KEY_HEADER = "Advocacy-Idempotency-Key"
SEAL_HEADER = "Advocacy-Idempotency-Seal"
RETENTION = timedelta(hours=48)
"""Longer than the gateway keeps its own record (24 h), so the gateway forgets first."""
PURGE_CHANCE = 0.01


@dataclass(frozen=True)
class CommandKey:
    """What the service learns of an Idempotency-Key: a name for it and a key to seal with."""

    key_hash: str
    seal_key: str

    @classmethod
    def derive(cls, scope: str, key: str) -> CommandKey:
        """`scope` is the caller's credential hash: keys belong to the credential that sent them."""
        material = f"{scope}\0{key}".encode()
        key_hash = hashlib.sha256(b"record\0" + material).hexdigest()
        seal = hashlib.sha256(b"seal\0" + material).digest()
        return cls(key_hash=key_hash, seal_key=base64.urlsafe_b64encode(seal).decode())

    def headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.key_hash, SEAL_HEADER: self.seal_key}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> CommandKey | None:
        key_hash, seal_key = headers.get(KEY_HEADER), headers.get(SEAL_HEADER)
        if not key_hash or not seal_key or len(key_hash) != 64:
            return None
        return cls(key_hash=key_hash, seal_key=seal_key)


command_key_var: ContextVar[CommandKey | None] = ContextVar("command_key", default=None)
"""Set by the gateway for the duration of a request that carries an Idempotency-Key."""


def command_key_headers() -> dict[str, str]:
    """The headers an RPC call carries for the current request (none without a key)."""
    key = command_key_var.get()
    return key.headers() if key is not None else {}


def rpc_idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "rpc_idempotency",
        metadata,
        Column("organisation_id", String(64), nullable=False),
        Column("key_hash", String(64), nullable=False, comment="SHA-256 of credential and key"),
        Column("operation", String(128), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("reply_sealed", Text, nullable=False, comment="Fernet, keyed by the caller's key"),
        Column("created_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("organisation_id", "key_hash", "operation", name="pk_rpc_idempotency"),
        Index("ix_rpc_idempotency_created_at", "created_at"),
    )


Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class CommandRecords:
    """Runs a command once per key: a retry is answered from the record of the first run."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def run_once(
        self,
        transaction: Transaction,
        key: CommandKey,
        operation: Operation[Any, Any],
        request: RpcRequest,
        handle: Callable[[AsyncSession], Awaitable[RpcReply]],
    ) -> RpcReply:
        organisation_id = str(getattr(request, "organisation_id", "") or "")
        request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        where = (organisation_id, key.key_hash, operation.name)
        try:
            async with transaction() as session:
                stored = await self._stored(session, *where)
                if stored is not None:
                    return _replayed(operation, key, request_hash, *stored)
                await self._forget_expired(session, *where)
                reply = await handle(session)
                await session.execute(
                    insert(self.table).values(
                        organisation_id=organisation_id,
                        key_hash=key.key_hash,
                        operation=operation.name,
                        request_hash=request_hash,
                        reply_sealed=Fernet(key.seal_key.encode())
                        .encrypt(reply.model_dump_json().encode())
                        .decode(),
                        created_at=utc_now(),
                    )
                )
                if random.random() < PURGE_CHANCE:
                    await self.purge_before(session, utc_now() - RETENTION)
                return reply
        except IntegrityError:
            # A concurrent run of the same command committed first: this one rolled back whole.
            async with transaction() as session:
                stored = await self._stored(session, *where)
            if stored is None:
                raise
            return _replayed(operation, key, request_hash, *stored)

    async def _stored(
        self, session: AsyncSession, organisation_id: str, key_hash: str, operation: str
    ) -> tuple[str, str] | None:
        t = self.table.c
        row = (
            await session.execute(
                select(t.request_hash, t.reply_sealed).where(
                    t.organisation_id == organisation_id,
                    t.key_hash == key_hash,
                    t.operation == operation,
                    t.created_at > utc_now() - RETENTION,
                )
            )
        ).first()
        return (row.request_hash, row.reply_sealed) if row is not None else None

    async def _forget_expired(
        self, session: AsyncSession, organisation_id: str, key_hash: str, operation: str
    ) -> None:
        t = self.table.c
        await session.execute(
            delete(self.table).where(
                t.organisation_id == organisation_id,
                t.key_hash == key_hash,
                t.operation == operation,
                t.created_at <= utc_now() - RETENTION,
            )
        )

    async def purge_before(self, session: AsyncSession, moment: datetime) -> None:
        await session.execute(delete(self.table).where(self.table.c.created_at < moment))


def _replayed(
    operation: Operation[Any, Any],
    key: CommandKey,
    request_hash: str,
    stored_hash: str,
    sealed: str,
) -> RpcReply:
    if stored_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used with another request",
            {"precondition": "idempotency-key"},
        )
    opened = Fernet(key.seal_key.encode()).decrypt(sealed)
    reply: RpcReply = operation.reply.model_validate_json(opened)
    return reply
