"""Concurrent lookups by key answered by as few fetches as can be, without a stale answer.

A service that answers many reads at once (the planner's playbook under 64 connections) asks the
database the same kind of question for each: one statement, one pool checkout and one round trip
per read. `Coalescer` lets the reads that arrive while its fetches are busy wait for the next
fetch, which asks for all of their keys at once.

It never answers a lookup from a fetch that began before the lookup was made: a fetch already
running may have read the database before a write that the caller has already seen succeed (a
write acknowledged to it, then a read), so it serves only the lookups queued before it began.
What a caller reads is therefore as fresh as a statement of its own would have been: the
coalescing changes the cost, never the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class Coalescer(Generic[K, V]):
    """At most `concurrency` fetches at a time. A lookup made while fewer run fetches its own key
    at once (at one request in flight nothing waits and nothing changes); one made while all are
    busy is queued, and when a fetch ends the queued keys, at most `max_keys` a fetch, are
    fetched together. A key that `fetch` leaves out of its mapping is looked up as None.

    Bound to the event loop of its first queued lookup (its futures are): make one per loop, or
    use it from one loop only.
    """

    def __init__(self, fetch: Fetch[K, V], *, concurrency: int, max_keys: int = 256) -> None:
        if concurrency < 1 or max_keys < 1:
            raise ValueError("concurrency and max_keys must be at least 1")
        self.fetch = fetch
        self.concurrency = concurrency
        self.max_keys = max_keys
        self.fetches = 0
        """Fetches begun so far (a batch whose lookups were all cancelled begins none): with
        `lookups`, how much the coalescing saved."""
        self.lookups = 0
        self._running = 0
        self._queued: list[tuple[K, asyncio.Future[V | None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        self.lookups += 1
        if self._running < self.concurrency and not self._queued:
            self._running += 1
            self.fetches += 1
            try:
                return (await self.fetch([key])).get(key)
            finally:
                self._running -= 1
                self._start_queued()
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._queued.append((key, future))
        return await future

    def _start_queued(self) -> None:
        while self._queued and self._running < self.concurrency:
            batch, self._queued = self._queued[: self.max_keys], self._queued[self.max_keys :]
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._fetch_for(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch_for(self, batch: list[tuple[K, asyncio.Future[V | None]]]) -> None:
        waiting = [(key, future) for key, future in batch if not future.done()]
        try:
            if not waiting:
                return
            self.fetches += 1
            values = await self.fetch(list(dict.fromkeys(key for key, _ in waiting)))
        except BaseException as exc:
            for _, future in waiting:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for key, future in waiting:
                if not future.done():
                    future.set_result(values.get(key))
        finally:
            self._running -= 1
            self._start_queued()
