"""`advocacy run`, the README's first command, as a newcomer runs it: an embedded nats-server,
SQLite, every service and the gateway under one supervisor. Linux only (reads /proc)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from advocacy_shared.embedded_nats import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc"),
]


@dataclass
class RunningPlatform:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    data_dir: Path
    ready_after: float

    def admin_key(self) -> str:
        """The key `advocacy run` printed once it saw the platform ready."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if match := re.search(r"admin API key: (\S+)", self.log.read_text()):
                return match.group(1)
            time.sleep(0.1)
        raise AssertionError(self.log.read_text()[-3000:])

    def processes(self, mentioning: str = "") -> list[tuple[int, str]]:
        """This platform's processes: those started with its data folder in their environment."""
        marker = f"ADVOCACY_DATA_DIR={self.data_dir}".encode()
        return [
            (pid, cmdline)
            for pid, cmdline in _processes()
            if mentioning in cmdline and marker in _environ(pid)
        ]


def _processes() -> Iterator[tuple[int, str]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield (
                    int(entry.name),
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(),
                )
            except OSError:
                continue


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def wait_ready(base_url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/readyz was not 200 within {timeout} s")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningPlatform]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"NATS_URL", "DATABASE_URL"} and not key.startswith("ADVOCACY_")
    }
    env |= {"ADVOCACY_HTTP_PORT": str(port), "ADVOCACY_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "run.log"
    command = [str(Path(sys.executable).parent / "advocacy"), "run"]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    platform = RunningPlatform(process, base_url, log, tmp_path / "data", 0.0)
    try:
        wait_ready(base_url, timeout=90)
        platform.ready_after = time.monotonic() - started
        yield platform
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid, _ in platform.processes():
            os.kill(pid, signal.SIGKILL)


def test_the_embedded_platform_serves_the_skeleton_restarts_a_crash_and_stops_cleanly(
    running: RunningPlatform,
) -> None:
    print(f"\n/readyz answered 200 {running.ready_after:.1f} s after `advocacy run` started")
    auth = {"Authorization": f"Bearer {running.admin_key()}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=10) as http:
        organisation = http.post("/api/v1/orgs", json={"name": "Embedded"}).json()
        for _ in range(100):
            playbook = http.get(f"/api/v1/orgs/{organisation['id']}/playbook")
            if playbook.status_code == 200:
                break
            time.sleep(0.05)
        assert playbook.status_code == 200, playbook.text
        assert len(playbook.json()["rows"]) == 3

    ((planner_pid, _),) = running.processes("advocacy_planner serve")
    os.kill(planner_pid, signal.SIGKILL)
    recovered_after = wait_ready(running.base_url, timeout=30)
    print(f"a killed planner was restarted and /readyz was 200 again in {recovered_after:.1f} s")
    assert "process exited; restarting" in running.log.read_text()

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=30) == 0
    assert "advocacy platform stopped" in running.log.read_text()
    assert running.processes() == []  # no service and no nats-server left behind
