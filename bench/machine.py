"""The machine under a benchmark's figures, measured in a few seconds: `make bench-machine`, and
the first lines of `make bench`, `make bench-metrics` and `bench/write_fanout.py`.

Figures of one run are comparable with another run's only on a machine that behaves the same.
A loaded or slower CPU shows in `loop`; what showed here besides it is the cost of waking a
process on another CPU. Every request of the platform crosses processes many times (client,
gateway, nats-server, service, PostgreSQL, and back), and on a virtual machine that halts an
idle virtual CPU without polling first (KVM guests with `haltpoll.guest_halt_poll_ns=0`, as
here), each crossing that finds the other CPU idle waits for the host to run it again:

- `loop`: seconds for ten million Python additions in a function (0.28 s on 2026-12-04's machine,
  where the same loop at module level, the yardstick of earlier figures in docs/, took 0.63 s);
- `round trip`: a message to another process and its answer over a socket pair, in µs: both
  pinned to one CPU, pinned to two different CPUs, and left to the scheduler;
- `fdatasync`: an 8 KB write made durable, in ms (p50 and p99), in `--folder` (the temporary
  folder by default; PostgreSQL's commits wait for the same on its own disk).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROUND_TRIPS = 4000
SYNCS = 400


@dataclass(frozen=True)
class Machine:
    loop_seconds: float
    same_cpu_us: float | None
    across_cpus_us: float | None
    unpinned_us: float
    fdatasync_p50_ms: float
    fdatasync_p99_ms: float
    load: tuple[float, float, float]

    def line(self) -> str:
        pinned = (
            f"{self.same_cpu_us:.1f} µs on one CPU, {self.across_cpus_us:.1f} µs across two, "
            if self.same_cpu_us is not None and self.across_cpus_us is not None
            else ""
        )
        return (
            f"machine: loop {self.loop_seconds:.2f} s; process round trip {pinned}"
            f"{self.unpinned_us:.1f} µs unpinned; fdatasync p50 {self.fdatasync_p50_ms:.2f} ms, "
            f"p99 {self.fdatasync_p99_ms:.2f} ms; {os.cpu_count()} CPUs, load average "
            f"{self.load[0]:.1f} {self.load[1]:.1f} {self.load[2]:.1f}"
        )


def measure_machine(folder: Path | None = None) -> Machine:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinnable = hasattr(os, "sched_setaffinity") and len(cpus) >= 2
    p50, p99 = fdatasync_ms(folder or Path(tempfile.gettempdir()))
    return Machine(
        loop_seconds=loop_seconds(),
        same_cpu_us=round_trip_us(cpus[0], cpus[0]) if pinnable else None,
        across_cpus_us=round_trip_us(cpus[0], cpus[1]) if pinnable else None,
        unpinned_us=round_trip_us(None, None),
        fdatasync_p50_ms=p50,
        fdatasync_p99_ms=p99,
        load=os.getloadavg(),
    )


def loop_seconds() -> float:
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def round_trip_us(parent_cpu: int | None, child_cpu: int | None) -> float:
    """The mean time for a 32-byte message to a forked process and its echo."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        child = os.fork()
        if child == 0:  # pragma: no cover - the echoing child
            try:
                _pin(child_cpu)
                ours.close()
                for _ in range(ROUND_TRIPS):
                    theirs.sendall(theirs.recv(64))
            finally:
                os._exit(0)
        theirs.close()
        with _pinned(parent_cpu):
            started = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                ours.sendall(b"x" * 32)
                ours.recv(64)
            elapsed = time.perf_counter() - started
        os.waitpid(child, 0)
    return elapsed / ROUND_TRIPS * 1e6


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


@contextmanager
def _pinned(cpu: int | None) -> Iterator[None]:
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def fdatasync_ms(folder: Path) -> tuple[float, float]:
    """p50 and p99 of an 8 KB write made durable in `folder`."""
    block = os.urandom(8192)
    times: list[float] = []
    with tempfile.NamedTemporaryFile(dir=folder, prefix="bench-machine-") as file:
        for index in range(SYNCS):
            os.pwrite(file.fileno(), block, (index % 16) * len(block))
            started = time.perf_counter()
            os.fdatasync(file.fileno())
            times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folder", type=Path, help="where to time fdatasync (default: /tmp)")
    args = parser.parse_args()
    print(measure_machine(args.folder).line(), flush=True)


if __name__ == "__main__":
    main()
