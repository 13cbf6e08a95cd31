"""`advocacy run`, the README's first command, as a newcomer runs it: an embedded nats-server,
SQLite, every service and the gateway under one supervisor."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import RunningPlatform, running_platform
from tests.shared.helpers import polls

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # five processes to start: minutes on a loaded machine
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc"),
]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path) as platform:
        yield platform


def test_the_embedded_platform_serves_restarts_its_crashed_processes_is_locked_and_dies_with_it(
    running: RunningPlatform,
) -> None:
    """One platform (a start costs about 20 s of CPU): the skeleton answers; a killed planner is
    restarted; a killed nats-server is restarted on its store and the API recovers; a second run on
    the same data folder is refused; `kill -9` of `advocacy run` leaves nothing behind. The clean
    stop on SIGINT is checked by `running_platform` for every platform a test leaves running (the
    demo's, the admin UI's, the fuzzed one)."""
    print(f"\n/readyz answered 200 {running.ready_after:.1f} s after `advocacy run` started")
    auth = {"Authorization": f"Bearer {running.admin_key()}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=10) as http:
        organisation = http.post("/api/v1/orgs", json={"name": "Embedded"}).json()
        playbook = _playbook(http, organisation["id"])
        assert playbook.status_code == 200, playbook.text
        assert len(playbook.json()["rows"]) == 3
        _passwords_are_hashed_as_configured(running, http)
        _a_killed_planner_is_restarted(running, http)
        _a_killed_nats_server_is_restarted_and_the_api_recovers(running, http, organisation["id"])
    _a_second_run_on_the_same_folder_is_refused(running)
    _kill_9_of_the_run_leaves_nothing_behind(running)


def _passwords_are_hashed_as_configured(running: RunningPlatform, http: httpx.Client) -> None:
    """The gateway process hashes with its `password_hash_*` settings (`running_platform` sets
    the cheapest) and says at start that they are weaker than OWASP's minimum."""
    admin = {"email": "root@embedded.example", "display_name": "Root", "password": "x" * 12}
    assert http.post("/api/v1/platform-admins", json=admin).status_code == 201
    with sqlite3.connect(running.data_dir / "gateway.db") as database:
        (stored,) = database.execute(
            "SELECT password_hash FROM users WHERE email = ?", (admin["email"],)
        ).fetchone()
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$"), stored
    assert "weaker than OWASP's minimum" in running.log.read_text()


def _a_killed_planner_is_restarted(running: RunningPlatform, http: httpx.Client) -> None:
    ((planner_pid, _),) = running.processes("advocacy_planner serve")
    os.kill(planner_pid, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < 60:
        processes = http.get("/status").json()["processes"]
        if processes["planner"]["state"] == "ready" and running.processes("advocacy_planner"):
            break
        time.sleep(0.1)
    print(
        f"a killed planner was restarted and answered again in {time.monotonic() - started:.1f} s"
    )
    assert processes["planner"]["state"] == "ready"
    assert [pid for pid, _ in running.processes("advocacy_planner serve")] != [planner_pid]
    assert "process exited; restarting" in running.log.read_text()


def _a_killed_nats_server_is_restarted_and_the_api_recovers(
    running: RunningPlatform, http: httpx.Client, organisation_id: str
) -> None:
    ((nats_pid, _),) = running.processes("nats-server")
    os.kill(nats_pid, signal.SIGKILL)
    started = time.monotonic()
    playbook = f"/api/v1/orgs/{organisation_id}/playbook"
    while time.monotonic() - started < 60:
        if http.get(playbook).status_code == 200:  # gateway -> NATS -> planner and back
            break
        time.sleep(0.1)
    print(f"the API answered again {time.monotonic() - started:.1f} s after nats-server died")
    assert http.get(playbook).status_code == 200
    after = http.post("/api/v1/orgs", json={"name": "After"}).json()
    assert _playbook(http, after["id"]).status_code == 200  # its event went through
    ((restarted, _),) = running.processes("nats-server")
    assert restarted != nats_pid
    assert "nats-server exited; restarting it on its store" in running.log.read_text()


def _a_second_run_on_the_same_folder_is_refused(running: RunningPlatform) -> None:
    env = {key: value for key, value in os.environ.items() if key != "NATS_URL"}
    second = subprocess.run(
        [str(Path(sys.executable).parent / "advocacy"), "run"],
        env={**env, "ADVOCACY_DATA_DIR": str(running.data_dir)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"{running.data_dir} is in use by another process" in second.stderr.decode()
    assert len(running.processes("nats-server")) == 1


def _kill_9_of_the_run_leaves_nothing_behind(running: RunningPlatform) -> None:
    assert running.processes("advocacy_gateway.webhooks")  # the last one it starts runs too
    running.process.kill()
    running.process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while running.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running.processes() == []  # nats-server and every service died with it


def _playbook(http: httpx.Client, organisation_id: str) -> httpx.Response:
    """The organisation's playbook, once the planner has it (provisioned from its event)."""
    for _ in polls():
        response = http.get(f"/api/v1/orgs/{organisation_id}/playbook")
        if response.status_code == 200:
            break
        time.sleep(0.05)
    return response
