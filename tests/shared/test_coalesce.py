"""`Coalescer`: concurrent lookups share fetches, and none is answered by a fetch older than it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from advocacy_shared.coalesce import Coalescer


class Store:
    """A key-value store whose fetches can be held open, recording the keys of each."""

    def __init__(self, values: dict[str, int]) -> None:
        self.values = values
        self.fetched: list[list[str]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.failure: Exception | None = None

    async def fetch(self, keys: list[str]) -> Mapping[str, int]:
        self.fetched.append(keys)
        # What a statement would read: the values when it began, not when it ends.
        seen = {key: self.values[key] for key in keys if key in self.values}
        await self.open.wait()
        if self.failure is not None:
            raise self.failure
        return seen


async def held_open(
    store: Store, coalescer: Coalescer[str, int], key: str
) -> asyncio.Task[int | None]:
    """A lookup of `key` whose fetch has begun and is held open until `store.open` is set."""
    store.open.clear()
    task = asyncio.create_task(coalescer.get(key))
    await asyncio.sleep(0)  # the task runs until its fetch waits
    assert len(store.fetched) == 1
    return task


async def test_one_lookup_at_a_time_fetches_its_own_key_at_once() -> None:
    store = Store({"a": 1, "b": 2})
    coalescer = Coalescer(store.fetch, concurrency=2)
    assert await coalescer.get("a") == 1
    assert await coalescer.get("b") == 2
    assert await coalescer.get("missing") is None
    assert store.fetched == [["a"], ["b"], ["missing"]]
    assert (coalescer.lookups, coalescer.fetches) == (3, 3)


async def test_lookups_made_while_every_fetch_is_busy_share_the_next_one() -> None:
    store = Store({"a": 1, "b": 2, "c": 3})
    coalescer = Coalescer(store.fetch, concurrency=2)
    store.open.clear()
    first = [asyncio.create_task(coalescer.get(key)) for key in ("a", "b")]
    await asyncio.sleep(0)  # the task runs until its fetch waits
    assert len(store.fetched) == 2
    later = [asyncio.create_task(coalescer.get(key)) for key in ("c", "a", "c", "b")]
    await asyncio.sleep(0)
    assert len(store.fetched) == 2  # both fetches busy: the later lookups wait
    store.open.set()
    assert await asyncio.gather(*first) == [1, 2]
    assert await asyncio.gather(*later) == [3, 1, 3, 2]
    # One fetch for the four queued lookups, each key once, in the order first asked.
    assert store.fetched == [["a"], ["b"], ["c", "a", "b"]]
    assert (coalescer.lookups, coalescer.fetches) == (6, 3)


async def test_a_lookup_is_never_answered_by_a_fetch_that_began_before_it() -> None:
    """A write acknowledged between a fetch's start and a later lookup: the later lookup waits for
    a fetch of its own rather than take the running one's older value."""
    store = Store({"a": 1})
    coalescer = Coalescer(store.fetch, concurrency=1)
    before = await held_open(store, coalescer, "a")
    store.values["a"] = 2  # committed, and the caller told so
    after = asyncio.create_task(coalescer.get("a"))
    await asyncio.sleep(0)
    store.open.set()
    assert await before == 1
    assert await after == 2
    assert store.fetched == [["a"], ["a"]]


async def test_a_failed_fetch_fails_its_own_lookups_and_the_next_ones_are_served() -> None:
    store = Store({"a": 1, "b": 2})
    coalescer = Coalescer(store.fetch, concurrency=1)
    running = await held_open(store, coalescer, "a")
    queued = [asyncio.create_task(coalescer.get(key)) for key in ("a", "b")]
    await asyncio.sleep(0)
    store.failure = RuntimeError("the database went away")
    store.open.set()
    with pytest.raises(RuntimeError, match="went away"):
        await running
    for task in queued:
        with pytest.raises(RuntimeError, match="went away"):
            await task
    store.failure = None
    assert await coalescer.get("b") == 2
    assert coalescer._running == 0


async def test_a_cancelled_lookup_leaves_the_others_of_its_fetch_answered() -> None:
    store = Store({"a": 1, "b": 2})
    coalescer = Coalescer(store.fetch, concurrency=1)
    running = await held_open(store, coalescer, "a")
    gives_up, waits = (asyncio.create_task(coalescer.get(key)) for key in ("a", "b"))
    await asyncio.sleep(0)
    gives_up.cancel()
    store.open.set()
    assert await running == 1
    assert await waits == 2
    assert gives_up.cancelled()
    assert store.fetched == [["a"], ["b"]]  # the cancelled lookup's key was not fetched


async def test_a_batch_whose_lookups_were_all_cancelled_fetches_nothing() -> None:
    store = Store({"a": 1, "b": 2})
    coalescer = Coalescer(store.fetch, concurrency=1)
    running = await held_open(store, coalescer, "a")
    gone = [asyncio.create_task(coalescer.get(key)) for key in ("a", "b")]
    await asyncio.sleep(0)
    for task in gone:
        task.cancel()
    store.open.set()
    assert await running == 1
    assert await coalescer.get("b") == 2  # served once the empty batch has ended
    assert store.fetched == [["a"], ["b"]]
    assert (coalescer.lookups, coalescer.fetches) == (4, 2)


async def test_queued_keys_are_fetched_at_most_max_keys_at_a_time() -> None:
    store = Store({str(n): n for n in range(10)})
    coalescer = Coalescer(store.fetch, concurrency=1, max_keys=4)
    running = await held_open(store, coalescer, "0")
    queued = [asyncio.create_task(coalescer.get(str(n))) for n in range(1, 10)]
    await asyncio.sleep(0)
    store.open.set()
    assert await running == 0
    assert await asyncio.gather(*queued) == list(range(1, 10))
    assert [len(keys) for keys in store.fetched] == [1, 4, 4, 1]
