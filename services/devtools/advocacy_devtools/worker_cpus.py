"""Each pytest-xdist worker on a CPU of its own (Linux), with what it starts.

A test process talks to its own nats-server, its SQLite files and the platforms it starts, one
message after another. On a virtual machine that does not poll before halting an idle virtual
CPU, each such message that wakes a process on the other CPU waits for the host to schedule
that CPU: on the machine this was measured on, a round trip between two processes took 4 µs on
one CPU and 64-90 µs across two, and the halts and wake-ups counted as CPU time of the processes
(docs/backbone.md, "Round 10"). Pinned, a worker and everything it starts (its nats-server, its
platforms, their browser) share one CPU and the other worker has the other: there, whole runs
took 248-262 s and 408-435 s of CPU, against 266-314 s and 438-527 s unpinned.
On a machine whose cross-CPU wake-ups are quick it makes no difference ("Round 11": 309.5 s
pinned, 305.5 s unpinned).

Only when every worker can have a CPU of its own (2 to as many workers as CPUs), and never with
`ADVOCACY_TEST_PIN_WORKERS=0`. Processes whose test is about running at the same time (the fault
suite's replicas and cluster nodes) start with `every_cpu` and get back the CPUs of the run.
"""

from __future__ import annotations

import os
from collections.abc import Collection

OPT_OUT = "ADVOCACY_TEST_PIN_WORKERS"

_run_cpus: frozenset[int] | None = None
"""The CPUs the run had before this worker was pinned; None when it was not pinned."""


def worker_cpu(worker: str | None, workers: int, cpus: Collection[int]) -> int | None:
    """The CPU for xdist worker `worker` (`gw0`, `gw1`, ...) of `workers`, or None: not under
    xdist, a single worker, or more workers than CPUs (they would share some and idle others)."""
    if worker is None or not worker.startswith("gw") or not 2 <= workers <= len(cpus):
        return None
    index = int(worker.removeprefix("gw"))
    return sorted(cpus)[index % len(cpus)]


def pin_this_worker() -> int | None:
    """Pin this process to its worker's CPU (see the module); returns it, or None."""
    global _run_cpus
    if not hasattr(os, "sched_setaffinity") or os.environ.get(OPT_OUT) == "0":
        return None
    cpus = frozenset(os.sched_getaffinity(0))
    cpu = worker_cpu(
        os.environ.get("PYTEST_XDIST_WORKER"),
        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")),
        cpus,
    )
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        _run_cpus = cpus
    return cpu


def run_cpus() -> frozenset[int]:
    """The CPUs of the run: this process's, or those it had before it was pinned."""
    return _run_cpus if _run_cpus is not None else frozenset(os.sched_getaffinity(0))


def every_cpu() -> None:
    """For `preexec_fn`: the child process gets back every CPU of the run."""
    if _run_cpus is not None:
        os.sched_setaffinity(0, _run_cpus)
