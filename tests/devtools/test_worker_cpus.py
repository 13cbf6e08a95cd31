"""Each pytest-xdist worker on a CPU of its own, what it starts with it, and the fault suite's
processes on every CPU (`advocacy_devtools.worker_cpus`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advocacy_devtools.worker_cpus import every_cpu, run_cpus, worker_cpu

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(run_cpus()) < 2,
    reason="needs Linux and two CPUs",
)


def test_each_worker_gets_a_cpu_of_its_own_only_when_there_are_enough() -> None:
    assert worker_cpu("gw0", 2, {0, 1}) == 0
    assert worker_cpu("gw1", 2, {0, 1}) == 1
    assert worker_cpu("gw1", 2, {4, 7, 9}) == 7
    assert worker_cpu("gw2", 4, {0, 1, 2, 3}) == 2
    assert worker_cpu("gw0", 3, {0, 1}) is None  # more workers than CPUs
    assert worker_cpu("gw0", 1, {0, 1}) is None  # one worker may use them all
    assert worker_cpu(None, 0, {0, 1}) is None  # not under pytest-xdist


PROBE = """
import json, os, subprocess, sys
from advocacy_devtools.worker_cpus import pin_this_worker
from tests.fault.processes import started_in_parallel  # what the fault suite's processes use
before = sorted(os.sched_getaffinity(0))
pinned = pin_this_worker()
show = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
inherited = json.loads(subprocess.run(show, capture_output=True, text=True).stdout)
parallel = json.loads(
    subprocess.run(show, capture_output=True, text=True, preexec_fn=started_in_parallel).stdout
)
print(json.dumps({"before": before, "pinned": pinned, "now": sorted(os.sched_getaffinity(0)),
                  "inherited": inherited, "parallel": parallel}))
"""


def _probe(**env: str) -> dict[str, object]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST_XDIST") and key != "ADVOCACY_TEST_PIN_WORKERS"
    }
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=environment | env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],  # the checkout, for `tests.fault`
        preexec_fn=every_cpu,  # this test may run on a pinned worker
    )
    result: dict[str, object] = json.loads(run.stdout)
    return result


def test_a_worker_is_pinned_with_its_children_and_a_parallel_child_gets_every_cpu() -> None:
    cpus = sorted(run_cpus())
    seen = _probe(PYTEST_XDIST_WORKER="gw1", PYTEST_XDIST_WORKER_COUNT="2")
    assert seen == {
        "before": cpus,
        "pinned": cpus[1],
        "now": [cpus[1]],
        "inherited": [cpus[1]],  # its nats-server, its platforms, their browser
        "parallel": cpus,  # the fault suite's replicas and cluster nodes
    }


@pytest.mark.parametrize(
    "env",
    [
        {},  # not under pytest-xdist
        {"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "1"},
        {
            "PYTEST_XDIST_WORKER": "gw0",
            "PYTEST_XDIST_WORKER_COUNT": "2",
            "ADVOCACY_TEST_PIN_WORKERS": "0",
        },
    ],
    ids=["serial", "one worker", "opted out"],
)
def test_nothing_is_pinned_otherwise(env: dict[str, str]) -> None:
    cpus = sorted(run_cpus())
    seen = _probe(**env)
    assert seen == {
        "before": cpus,
        "pinned": None,
        "now": cpus,
        "inherited": cpus,
        "parallel": cpus,
    }
