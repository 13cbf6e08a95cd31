"""What FastAPI's dependency resolution costs a request, in CPU, on this machine.

Not a test: it prints figures. An ASGI call loop (no server, no socket) drives three routes that
answer the same bytes:

- `chain`:    the gateway's permission check as it was: a permission dependency depending on
              `authenticate`, which depends on the `HTTPBearer` and `APIKeyCookie` classes, plus
              the state dependency;
- `one`:      as it is now (`advocacy_gateway.auth.caller_of`): one permission dependency that
              reads the header and the cookie itself, plus the state dependency;
- `bare`:     no dependency but the path parameter.

Run: `.venv/bin/python bench/fastapi_dependencies.py` (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False)
cookie = APIKeyCookie(name="session", auto_error=False)
app = FastAPI()
BODY = b"{}"


async def state(request: Request) -> Any:
    return request.app


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(cookie)],
) -> str | None:
    return credentials.credentials if credentials else session


async def permission_chain(
    org_id: uuid.UUID, request: Request, caller: Annotated[str | None, Depends(authenticate)]
) -> tuple[uuid.UUID, str | None]:
    return org_id, caller


async def permission_one(org_id: uuid.UUID, request: Request) -> tuple[uuid.UUID, str | None]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    caller = token if scheme.lower() == "bearer" else request.cookies.get("session")
    return org_id, caller


@app.get("/chain/{org_id}")
async def chain(
    access: Annotated[tuple[uuid.UUID, str], Depends(permission_chain)],
    gateway: Annotated[Any, Depends(state)],
) -> Response:
    return Response(BODY, media_type="application/json")


@app.get("/one/{org_id}")
async def one(
    access: Annotated[tuple[uuid.UUID, str], Depends(permission_one)],
    gateway: Annotated[Any, Depends(state)],
) -> Response:
    return Response(BODY, media_type="application/json")


@app.get("/bare/{org_id}")
async def bare(org_id: str) -> Response:
    return Response(BODY, media_type="application/json")


async def call(path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", b"Bearer key"), (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{path} answered {sent[0]['status']}")


async def main(requests: int = 5000, rounds: int = 2) -> None:
    organisation = uuid.uuid4()
    print(f"CPU per request, µs ({requests} requests each, load {os.getloadavg()[0]:.1f}):")
    for _ in range(rounds):
        figures = {}
        for name in ("chain", "one", "bare"):
            path = f"/{name}/{organisation}"
            for _ in range(requests // 10):
                await call(path)
            started = time.process_time()
            for _ in range(requests):
                await call(path)
            figures[name] = (time.process_time() - started) / requests * 1e6
        print(
            "  ".join(f"{name} {value:6.1f}" for name, value in figures.items())
            + f"  (one/chain {figures['one'] / figures['chain']:.2f})"
        )


if __name__ == "__main__":
    asyncio.run(main())
