"""Idempotency-Key for creating POSTs: a retry gets the first answer instead of a second creation.

The first request with a key (per credential) is recorded before it runs, with a lease; a retry
with the same key and the same body replays the recorded answer (with `Idempotent-Replayed:
true`); the same key with another body is refused (422); a retry while the first still holds its
lease gets 409. Answers that say nothing was done (401, 403, 429) are not kept. A 5xx keeps the
record, bound to its body, with no answer and its lease released: the service may have committed
(a 504 is a timeout, not a refusal), so the retry is sent on, with the same key, and the service
answers it from its own record (`advocacy_shared.idempotency`). A gateway that crashes mid-request
leaves a lease that runs out, after which a retry takes the key over.
"""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advocacy_gateway.models import IdempotencyRecord
from advocacy_gateway.problems import send_problem
from advocacy_gateway.ratelimit import credential_of
from advocacy_gateway.repository import IdempotencyRepository
from advocacy_gateway.state import GatewayState
from advocacy_shared.envelope import utc_now
from advocacy_shared.idempotency import CommandKey, command_key_var

HEADER = b"idempotency-key"
NOT_KEPT = {401, 403, 429}
KEPT_HEADERS = {"content-type", "location", "cache-control"}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl: timedelta, lease: timedelta) -> None:
        self.app = app
        self.ttl = ttl
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = dict(scope.get("headers", [])).get(HEADER)
        if scope["type"] != "http" or scope["method"] != "POST" or key is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 255:
            await send_problem(scope, send, 400, "bad-idempotency-key", "use 1 to 255 characters")
            return
        body, receive = await _read_body(receive)
        credential = credential_of(scope)
        request = fingerprint(scope["path"], scope.get("query_string", b""), body)
        state: GatewayState = scope["app"].state.gateway
        record = await self._claim(state, credential, key.decode(), request)
        if record is not None:
            await self._answer_again(state, scope, send, record, request)
            return
        await self._run_and_keep(state, scope, receive, send, credential, key.decode())

    async def _claim(
        self, state: GatewayState, credential: str, key: str, fingerprint: str
    ) -> IdempotencyRecord | None:
        """Record the first use of a key, or take over one whose lease ran out with no answer;
        returns the earlier record when it stands in the way."""
        now = utc_now()
        try:
            async with state.transaction() as session:
                records = IdempotencyRepository(session)
                if random.random() < 0.01:
                    await records.purge_before(now - self.ttl)
                existing = await records.get(credential, key)
                if existing is not None and existing.created_at > now - self.ttl:
                    if existing.fingerprint == fingerprint and await records.take_over(
                        credential, key, now, now + self.lease
                    ):
                        return None
                    return existing
                if existing is not None:
                    await records.remove(credential, key)
                records.add(
                    IdempotencyRecord(
                        credential_hash=credential,
                        key=key,
                        fingerprint=fingerprint,
                        lease_expires_at=now + self.lease,
                    )
                )
        except IntegrityError:
            async with state.sessions() as session:
                return await IdempotencyRepository(session).get(credential, key)
        return None

    async def _answer_again(
        self,
        state: GatewayState,
        scope: Scope,
        send: Send,
        record: IdempotencyRecord,
        fingerprint: str,
    ) -> None:
        if record.fingerprint != fingerprint:
            await send_problem(
                scope,
                send,
                422,
                "idempotency-key-reused",
                "this Idempotency-Key was used with another request body",
            )
        elif record.status_code is None:
            await send_problem(
                scope,
                send,
                409,
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still being processed: retry shortly",
            )
        else:
            headers = [(k.encode(), v.encode()) for k, v in record.response_headers.items()]
            await send(
                {
                    "type": "http.response.start",
                    "status": record.status_code,
                    "headers": [*headers, (b"idempotent-replayed", b"true")],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": state.secrets.open(record.response_body or "").encode(),
                }
            )

    async def _run_and_keep(
        self,
        state: GatewayState,
        scope: Scope,
        receive: Receive,
        send: Send,
        credential: str,
        key: str,
    ) -> None:
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []
        held: list[Message] = []

        async def capture(message: Message) -> None:
            """Hold the answer until it is kept: a retry that comes the moment the client has
            it must be replayed, not told that the first request is still in progress."""
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode().lower() in KEPT_HEADERS:
                        headers[name.decode().lower()] = value.decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            held.append(message)

        command_key = command_key_var.set(CommandKey.derive(credential, key))
        try:
            await self.app(scope, receive, capture)
        finally:
            command_key_var.reset(command_key)
            async with state.transaction() as session:
                records = IdempotencyRepository(session)
                record = await records.get(credential, key)
                if record is not None and status in NOT_KEPT:
                    await records.remove(credential, key)
                elif record is not None and status >= 500:
                    record.lease_expires_at = utc_now()
                    session.add(record)
                elif record is not None:
                    record.status_code = status
                    record.response_headers = headers
                    # Sealed: the first answer may hold a secret shown once (a new API key).
                    record.response_body = state.secrets.seal(
                        b"".join(chunks).decode(errors="replace")
                    )
                    record.lease_expires_at = None
                    session.add(record)
        for message in held:
            await send(message)


def fingerprint(path: str, query: bytes, body: bytes) -> str:
    """What a retry must repeat exactly to be the same request."""
    return hashlib.sha256(b"\0".join([path.encode(), query, body])).hexdigest()


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
