"""The gateway's own CPU per request, in process: no server, no socket, no other process.

Not a test: it prints figures. An ASGI call loop drives the gateway's application (as
`create_app` builds it, with every middleware) and, for comparison, the bare handler of
`bench/bare.py`; the RPC client is replaced by one that answers the playbook's bytes at once and
the caller's API key and organisation are kept in the gateway's lookups, so what is measured is
the gateway's Python per request (`time.process_time`), the floor under `make bench`'s
figures. Scenarios, as in `make bench`:

- `bare`:         `GET /bare` on the bare FastAPI handler,
- `rpc read`:     `GET /api/v1/orgs/{id}/playbook` with an admin API key (the RPC answered at once),
- `gateway read`: `GET /api/v1/orgs/{id}` with the same key,
- `healthz`:      `GET /healthz` (no credential).

Run: `.venv/bin/python bench/gateway_cpu.py [--requests 3000] [--rounds 3] [--profile NAME]`
(`SORT=tottime` orders the profile by each function's own time)
(docs/performance.md, "The fifth round").
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from advocacy_gateway.app import create_app
from advocacy_gateway.auth import KeptKey
from advocacy_gateway.models import ApiKey, Organisation
from advocacy_gateway.security import hash_secret, new_api_key
from advocacy_gateway.settings import GatewaySettings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare import bare_app  # bench/ is not a package

BODY = b'{"organisation_id":"00000000-0000-0000-0000-000000000000","rows":[' + b"0," * 760 + b"0]}"
Message = MutableMapping[str, Any]


class AnsweringRpc:
    """The RPC client's two calls, answered at once with the same bytes."""

    async def call_json(self, operation: Any, request: Any, timeout: float | None = None) -> bytes:
        return BODY

    async def call(self, operation: Any, request: Any, timeout: float | None = None) -> Any:
        return operation.reply.model_validate_json(BODY)


def scope_for(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope_for(path, headers), receive, send)
    return int(sent[0]["status"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="a scenario to profile with cProfile instead")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="advocacy-gateway-cpu-")
    os.environ["ADVOCACY_DATA_DIR"] = folder
    settings = GatewaySettings(
        database_url=f"sqlite:///{folder}/gateway.db",
        auth_cache_seconds=60,
        rate_limit_per_minute=10**9,
        rate_limit_burst=10**9,
    )
    app = create_app(settings, "bootstrap key of the benchmark")
    state = app.state.gateway
    state._rpc = AnsweringRpc()
    organisation = Organisation(name="Bench", slug="bench")
    prefix, key = new_api_key()
    api_key = ApiKey(
        organisation_id=organisation.id,
        name="bench",
        prefix=prefix,
        secret_hash=hash_secret(key),
        scopes=["admin"],
        created_by="bench",
    )

    def keep() -> None:
        state.lookups.api_keys.put(prefix, KeptKey.of(api_key))
        state.lookups.organisations.put(organisation.id, organisation)

    auth = [(b"authorization", f"Bearer {key}".encode())]
    scenarios = {
        "bare": (bare_app(BODY), "/bare", []),
        "rpc read": (app, f"/api/v1/orgs/{organisation.id}/playbook", auth),
        "gateway read": (app, f"/api/v1/orgs/{organisation.id}", auth),
        "healthz": (app, "/healthz", []),
    }

    async def loop(name: str, requests: int) -> float:
        target, path, headers = scenarios[name]
        keep()
        for _ in range(200):
            status = await call(target, path, headers)
            assert status == 200, f"{name}: {status}"
        started = time.process_time()
        for done in range(requests):
            if done % 1000 == 0:
                keep()  # well within the kept rows' time
            await call(target, path, headers)
        return (time.process_time() - started) / requests * 1e6

    async def run() -> None:
        if args.profile:
            await loop(args.profile, 500)
            profile = cProfile.Profile()
            profile.enable()
            await loop(args.profile, args.requests)
            profile.disable()
            pstats.Stats(profile).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
            return
        print(f"CPU µs per request, {args.requests} requests a figure, in process:")
        for _ in range(args.rounds):
            figures = [f"{name} {await loop(name, args.requests):5.0f}" for name in scenarios]
            print("   ".join(figures), flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} (1 min)")

    import uvloop

    uvloop.run(run())


if __name__ == "__main__":
    main()
