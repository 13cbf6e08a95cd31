"""A service as its own process, `python -m <module> serve --no-migrate`, started, killed and
stopped by a fault test as a supervisor or an orchestrator would (the kill -9 tests and the
multi-node test): one helper, one way of starting and of waiting for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import nats

from advocacy_devtools.supervisor import die_with_parent
from advocacy_devtools.worker_cpus import every_cpu
from advocacy_shared.contracts.errors import RpcError
from advocacy_shared.contracts.system import PingRequest, ping
from advocacy_shared.rpc import RpcClient
from advocacy_shared.topology import Topology
from tests.shared.helpers import eventually

CHILD_SETTINGS = {
    "ADVOCACY_CONSUMER_BACKOFF_SECONDS": "[0.1, 0.5]",
    "ADVOCACY_LOG_LEVEL": "WARNING",
}
"""What every fault test's service process runs with: fast redelivery, quiet logs."""


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The test's environment without any `ADVOCACY_*` or `NATS_URL` of the machine, plus the
    fault tests' common settings and `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ADVOCACY_") and key != "NATS_URL"
    }
    return env | CHILD_SETTINGS | dict(settings)


def started_in_parallel() -> None:
    """`preexec_fn` of the fault suite's processes: each stops with the test process and runs on
    every CPU of the run, not on its pytest-xdist worker's one, so that replicas and cluster
    nodes really run at the same time (`advocacy_devtools.worker_cpus`)."""
    die_with_parent()
    every_cpu()


class ServiceProcess:
    """One process of a service (`module`: `advocacy_planner`, `advocacy_gateway.webhooks`, ...);
    it dies with the test process."""

    def __init__(self, module: str, env: Mapping[str, str], log: Path) -> None:
        self.module = module
        self.env = dict(env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "serve", "--no-migrate"],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=started_in_parallel,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def answering(self, service: str, timeout: float = 120) -> None:
        """Wait until `service` answers a ping on its NATS (`NATS_URL`, `ADVOCACY_NAMESPACE` of
        this process): its request handlers, consumers and relay are then started. Fails at
        once, with the log, when the process has exited."""
        topology = Topology(self.env["ADVOCACY_NAMESPACE"])
        nc = await nats.connect(self.env["NATS_URL"].split(","), name="advocacy-tests")
        rpc = RpcClient(nc, lambda operation: operation.subject(topology), 1.0)

        async def answered() -> bool:
            assert self.alive, self.log.read_text(errors="replace")[-3000:]
            try:
                await rpc.call(ping(service), PingRequest())
            except RpcError:  # no responders yet, or no answer yet
                return False
            return True

        try:
            await eventually(answered, timeout=timeout, interval=0.1)
        finally:
            await nc.close()

    def kill(self) -> None:
        assert self.process is not None
        assert self.alive, self.log.read_text(errors="replace")
        self.process.kill()  # SIGKILL: no clean-up of any kind
        self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGCONT)  # a paused process cannot take SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def service_process(module: str, env: Mapping[str, str], log: Path) -> Iterator[ServiceProcess]:
    """`module`'s process, started; stopped (SIGTERM, then SIGKILL) afterwards."""
    process = ServiceProcess(module, env, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()
