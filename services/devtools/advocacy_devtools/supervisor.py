"""Runs the platform's processes together: restarts one that crashes, stops all cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from advocacy_shared.lifecycle import woken

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """On Linux, have the kernel stop a child if the supervisor itself is killed."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Supervised:
    spec: ProcessSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0


class Supervisor:
    """Keeps every process running until `stop()`; a crashed one restarts with backoff."""

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.children = [Supervised(spec) for spec in specs]
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.stopping = asyncio.Event()
        self._watchers: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        self._watchers += [asyncio.create_task(self._keep_running(c)) for c in self.children]
        await self.stopping.wait()
        await asyncio.gather(*(self._terminate(child) for child in self.children))
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    def add(self, specs: Sequence[ProcessSpec]) -> None:
        """Start more processes under a running supervisor (once what they need is ready)."""
        if self.stopping.is_set():
            return
        for spec in specs:
            child = Supervised(spec)
            self.children.append(child)
            self._watchers.append(asyncio.create_task(self._keep_running(child)))

    def stop(self) -> None:
        self.stopping.set()

    async def _keep_running(self, child: Supervised) -> None:
        delay = self.backoff_initial
        while not self.stopping.is_set():
            try:
                await self._start(child)
                assert child.process is not None
                code = await child.process.wait()
            except Exception:
                log.exception("could not start process", extra={"child": child.spec.name})
                code = None
            if self.stopping.is_set():
                return
            if time.monotonic() - child.started_at > self.stable_after:
                delay = self.backoff_initial
            child.restarts += 1
            log.warning(
                "process exited; restarting",
                extra={"child": child.spec.name, "exit_code": code, "in_seconds": delay},
            )
            await woken(self.stopping, delay)
            delay = min(delay * 2, self.backoff_max)

    async def _start(self, child: Supervised) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.spec.argv,
            env={**os.environ, **child.spec.env},
            stdin=asyncio.subprocess.DEVNULL,
            # Ctrl-C reaches the supervisor only, which stops the rest in order.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        child.started_at = time.monotonic()
        log.info("process started", extra={"child": child.spec.name, "pid": child.process.pid})

    async def _terminate(self, child: Supervised) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=self.stop_timeout)
        except TimeoutError:
            log.warning("process did not stop in time; killing", extra={"child": child.spec.name})
            process.kill()
            await process.wait()
