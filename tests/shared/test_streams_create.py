"""`ensure_streams` tries a stream creation again after a server error, and only after one."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js.errors import ServerError

from advocacy_shared.settings import ServiceSettings
from advocacy_shared.streams import STREAM_CREATE_TRIES, ensure_streams, stream_configs
from advocacy_shared.topology import Topology

STORE_ERROR = "error creating store for stream"


class FlakyServer:
    """A JetStream context whose first `failures` creations fail with a server error."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.created: list[str] = []

    async def add_stream(self, config: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ServerError(code=500, err_code=10049, description=STORE_ERROR)
        self.created.append(config.name)

    async def update_stream(self, config: Any) -> None:
        raise AssertionError("nothing exists to update")


async def test_a_server_error_while_creating_a_stream_is_tried_again() -> None:
    topology, settings = Topology("flaky"), ServiceSettings()
    server = FlakyServer(failures=STREAM_CREATE_TRIES - 1)
    await ensure_streams(server, topology, settings)  # type: ignore[arg-type]
    assert server.created == [config.name for config in stream_configs(topology, settings)]


async def test_a_server_error_that_persists_is_raised() -> None:
    server = FlakyServer(failures=STREAM_CREATE_TRIES)
    with pytest.raises(ServerError, match="error creating store"):
        await ensure_streams(server, Topology("flaky"), ServiceSettings())  # type: ignore[arg-type]
    assert server.created == []
