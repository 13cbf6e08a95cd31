"""The embedded nats-server under supervision: restarted on its port and store when it dies, a
loud stop when it cannot be, and never two servers on one store."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path

import nats
import pytest

from advocacy_devtools.embedded_nats import EmbeddedNats, EmbeddedNatsError
from advocacy_devtools.locks import FolderInUseError, FolderLock
from tests.shared.helpers import eventually


def test_a_second_server_on_a_store_in_use_is_refused_with_the_holder(tmp_path: Path) -> None:
    with EmbeddedNats(store_dir=tmp_path / "nats"):
        message = f"{tmp_path / 'nats'} is in use by another process (pid {os.getpid()})"
        with pytest.raises(FolderInUseError, match=re.escape(message)):
            EmbeddedNats(store_dir=tmp_path / "nats").start()
    with EmbeddedNats(store_dir=tmp_path / "nats"):  # released with the first server
        pass


def test_starting_a_running_server_again_leaves_the_one_server(tmp_path: Path) -> None:
    with EmbeddedNats(store_dir=tmp_path / "nats").start() as server:
        first = server.process
        assert server.start().process is first
        assert first is not None
        assert first.poll() is None
    assert first.poll() is not None  # stopped with the block: no second server left behind


def _gomaxprocs(server: EmbeddedNats) -> str | None:
    assert server.process is not None
    environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
    found = [entry for entry in environ if entry.startswith(b"GOMAXPROCS=")]
    return found[0].decode().partition("=")[2] if found else None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_the_server_runs_one_go_thread_unless_gomaxprocs_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOMAXPROCS", raising=False)
    with EmbeddedNats(store_dir=tmp_path / "one") as server:
        assert _gomaxprocs(server) == "1"
    monkeypatch.setenv("GOMAXPROCS", "2")
    with EmbeddedNats(store_dir=tmp_path / "two") as server:
        assert _gomaxprocs(server) == "2"


def test_a_lock_is_released_with_its_holder(tmp_path: Path) -> None:
    lock = FolderLock.acquire(tmp_path, "a test")
    with pytest.raises(FolderInUseError):
        FolderLock.acquire(tmp_path, "a second test")
    lock.release()
    FolderLock.acquire(tmp_path, "a third test").release()


async def test_a_killed_server_is_restarted_on_its_port_and_store(tmp_path: Path) -> None:
    with EmbeddedNats(store_dir=tmp_path / "nats") as server:
        nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        await js.publish("kept.fact", b"stored before the crash")
        stopping = asyncio.Event()
        keeper = asyncio.create_task(server.keep_running(stopping))
        assert server.process is not None
        killed = server.process.pid
        server.process.kill()

        async def back() -> bool:
            assert server.process is not None
            return server.process.pid != killed and nc.is_connected

        await eventually(back, timeout=30)
        assert (await js.stream_info("KEPT")).state.messages == 1
        assert server.restarts == 1
        stopping.set()
        await keeper
        await nc.close()


async def test_keeping_it_running_gives_up_loudly_when_it_cannot_restart(tmp_path: Path) -> None:
    server = EmbeddedNats(store_dir=tmp_path / "nats", max_restarts=2).start()
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    with socket.socket() as squatter:  # the port is taken: every restart fails at once
        squatter.bind(("127.0.0.1", server.port))
        squatter.listen()
        with pytest.raises(EmbeddedNatsError, match="could not be restarted"):
            await server.keep_running(asyncio.Event(), timeout=10)
    server.release()
