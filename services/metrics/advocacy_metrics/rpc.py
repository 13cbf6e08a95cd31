"""The metrics service's request handlers (only the system ping so far)."""

from __future__ import annotations

from advocacy_shared.rpc import RpcServer

server = RpcServer("metrics")
