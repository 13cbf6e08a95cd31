"""The platform as a newcomer runs it: `advocacy run` in a subprocess, reached over real HTTP.

Linux only (it reads /proc to find the platform's processes).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from advocacy_devtools.embedded_nats import free_port


@dataclass
class RunningPlatform:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    data_dir: Path
    ready_after: float = 0.0

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
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            yield int(entry.name), cmdline.replace(b"\0", b" ").decode()


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def wait_ready(base_url: str, timeout: float) -> float:
    """One client for the whole wait: each new one loads the CA bundle (about 25 ms of CPU), which
    ten times a second took a quarter of a core from the platform it was waiting for."""
    started = time.monotonic()
    with httpx.Client(timeout=2) as http:
        while time.monotonic() - started < timeout:
            try:
                if http.get(f"{base_url}/readyz").status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"/readyz was not 200 within {timeout} s")


ROLLUP_INTERVAL = "1"
"""`running_platform(..., rollup_interval_seconds=ROLLUP_INTERVAL)`: the metrics service redoes
the daily rollups of touched days every second instead of every minute, so a test that waits for
them (`rolled_up`) waits for the recomputation, not for most of a minute."""


def rolled_up(http: httpx.Client, base: str, timeout: float = 180) -> None:
    """Wait until the organisation at `base` (`/api/v1/orgs/<id>`) has daily rollups: they are
    recomputed in the background (`rollup_interval_seconds`), after the snapshots are stored.
    Asked once a second: the API key's rate-limit burst is not spent on the wait."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"{base}/metrics/rollups/ambassador")
        assert response.status_code == 200, response.text
        if response.json()["items"]:
            return
        assert time.monotonic() < deadline, "the metrics service never rolled the snapshots up"
        time.sleep(1)


PLATFORM_START_SECONDS = 300
"""A bound for a platform that never starts, not a wait: six processes importing and migrating
on a loaded 2-core machine (a second suite running) took more than 90 s, and once more than
120 s. The tests whose setup may start a shared platform get this much more time (conftest)."""


CHEAP_PASSWORD_HASHING = {
    "password_hash_time_cost": "1",
    "password_hash_memory_kib": "8",
    "password_hash_parallelism": "1",
}
"""The platforms tests start hash passwords as the in-process tests do, with Argon2's cheapest
parameters: at production cost the browser tests' sign-ins, the fuzzed login and the demo's
accounts took about 8 s of CPU more in tests/ui alone."""


@contextmanager
def running_platform(
    folder: Path, *options: str, environment: dict[str, str] | None = None, **settings: str
) -> Iterator[RunningPlatform]:
    """Start `advocacy run [options]` with an embedded nats-server and SQLite in `folder`; stop
    it after. `environment`: more variables as they are (OTEL_*); `settings`: ADVOCACY_<NAME>
    ones."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"NATS_URL", "DATABASE_URL"} and not key.startswith("ADVOCACY_")
    }
    env |= {"ADVOCACY_HTTP_PORT": str(port), "ADVOCACY_DATA_DIR": str(folder / "data")}
    settings = CHEAP_PASSWORD_HASHING | settings
    env |= {f"ADVOCACY_{name.upper()}": value for name, value in settings.items()}
    env |= environment or {}
    log = folder / "run.log"
    command = [str(Path(sys.executable).parent / "advocacy"), "run", *options]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    platform = RunningPlatform(process, f"http://127.0.0.1:{port}", log, folder / "data")
    try:
        wait_ready(platform.base_url, timeout=PLATFORM_START_SECONDS)
        platform.ready_after = time.monotonic() - started
        yield platform
    except BaseException:
        _stop(platform)
        raise
    stopped_here = process.poll() is None
    code, left = _stop(platform)
    if stopped_here:
        # Every platform a test leaves running proves the clean stop (Ctrl-C): exit code 0, and no
        # service nor nats-server left behind (tests/e2e/test_embedded_run.py kills its own).
        tail = log.read_text()[-3000:]
        assert code == 0, f"`advocacy run` exited {code} on SIGINT:\n{tail}"
        assert "advocacy platform stopped" in tail, tail
        assert left == [], f"left running after a clean stop: {left}"


def _stop(platform: RunningPlatform) -> tuple[int | None, list[tuple[int, str]]]:
    """SIGINT, then SIGKILL after 30 s; whatever of the platform is left is killed. Returns the
    exit code (None when it had to be killed) and the processes that were left."""
    process, code = platform.process, platform.process.poll()
    if code is None:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    left = platform.processes()
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    return code, left
