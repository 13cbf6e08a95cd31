"""The rows every authenticated request looks up (its API key, the organisation in its path), kept
for a few seconds so that a request does not wait on the database for them.

Correct under revocation and rotation:
- Only rows are kept, never the decision: the secret, `revoked_at` and `expires_at` are checked on
  every request against the row, so a key whose expiry passes is refused at that moment.
- In this process, any change to an API key or an organisation made through the gateway's
  sessions evicts the row when it is flushed and again after the commit (ORM events below), so a
  revocation or rotation takes effect at once on the replica that made it.
- Another gateway replica keeps its copy for at most `ttl` seconds
  (`ADVOCACY_AUTH_CACHE_SECONDS`, default 2; 0 turns the cache off): that is the bound within which
  a key revoked elsewhere stops working everywhere (docs/performance.md).
Unknown keys are never kept, so a key created on another replica works at once.

A row is loaded once however many requests ask for it at the same time (`TtlCache.get_or_load`):
at 64 concurrent requests an expired entry used to send every one of them to the database at
once, more than the pool holds (docs/performance.md, "The fifth round").
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from advocacy_gateway.models import ApiKey, Organisation

if TYPE_CHECKING:
    from advocacy_gateway.auth import KeptKey

V = TypeVar("V")


class TtlCache(Generic[V]):
    """A bounded map whose entries expire `ttl` seconds after they were stored."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._loading: dict[Hashable, asyncio.Future[V | None]] = {}

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: Hashable, value: V) -> None:
        if self.ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        """Forget the entry, and a load of it in flight: that load's row may predate the change
        that discards it, so it is not kept, and later callers load afresh."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The kept value, else the loaded one (kept when found). Callers that miss while a load
        of the key is in flight wait for that load instead of starting their own; the load runs
        in a task of its own, so a caller that gives up (a client gone) does not cancel it for
        the others."""
        value = self.get(key)
        if value is not None:
            return value
        if self.ttl <= 0:
            return await load()
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(load())
            self._loading[key] = loading
            loading.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(loading)

    def _loaded(self, key: Hashable, done: asyncio.Future[V | None]) -> None:
        if self._loading.get(key) is not done:
            return  # discarded while in flight: not kept
        del self._loading[key]
        if done.cancelled() or done.exception() is not None:
            return
        value = done.result()
        if value is not None:
            self.put(key, value)


class Lookups:
    """The gateway's kept API keys (by prefix) and organisations (by id)."""

    def __init__(self, ttl: float) -> None:
        self.api_keys: TtlCache[KeptKey] = TtlCache(ttl)
        """What requests need of each key's row, by prefix (`auth.KeptKey`)."""
        self.organisations: TtlCache[Organisation] = TtlCache(ttl)

    def forget(self, rows: Any) -> None:
        for row in rows:
            if isinstance(row, ApiKey):
                self.api_keys.discard(row.prefix)
            elif isinstance(row, Organisation):
                self.organisations.discard(row.id)

    def watch(self, session_class: type[Session]) -> None:
        """Evict the rows that sessions of `session_class` change, at flush and after commit."""
        pending_key = ("advocacy_lookups", id(self))

        def after_flush(session: Session, _context: Any) -> None:
            changed = [*session.dirty, *session.deleted]
            self.forget(changed)
            session.info.setdefault(pending_key, []).extend(changed)

        def after_commit(session: Session) -> None:
            self.forget(session.info.pop(pending_key, []))

        event.listen(session_class, "after_flush", after_flush)
        event.listen(session_class, "after_commit", after_commit)
        event.listen(session_class, "after_rollback", after_commit)
