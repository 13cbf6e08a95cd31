"""`advocacy run`, the README's first command, as a newcomer runs it: an embedded nats-server,
SQLite, every service and the gateway under one supervisor."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import RunningPlatform, running_platform, wait_ready
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


def test_the_embedded_platform_serves_the_skeleton_restarts_a_crash_and_stops_cleanly(
    running: RunningPlatform,
) -> None:
    print(f"\n/readyz answered 200 {running.ready_after:.1f} s after `advocacy run` started")
    auth = {"Authorization": f"Bearer {running.admin_key()}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=10) as http:
        organisation = http.post("/api/v1/orgs", json={"name": "Embedded"}).json()
        for _ in polls():
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
