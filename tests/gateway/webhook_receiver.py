"""A real HTTP receiver for webhook tests: uvicorn on 127.0.0.1, recording what it gets and
answering as the test tells it, per path."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from advocacy_devtools.embedded_nats import free_port
from tests.loopback import LoopbackServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"thanks"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def succeeded(self) -> bool:
        return 200 <= self.answered < 300


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self.default = Answer()
        self._server: LoopbackServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, answer: Answer, path: str | None = None) -> None:
        """Answer requests to `path` (or every path without its own answer) like this."""
        if path is None:
            self.default = answer
        else:
            self.answers[path] = answer

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    def succeeded(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.succeeded and (path is None or r.path == path)]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver: condition not met within {timeout} s; got "
                    f"{[(r.path, r.answered) for r in self.received]}"
                )
            await asyncio.sleep(0.02)

    async def _receive(self, request: Request) -> Response:
        answer = self.answers.get(request.url.path, self.default)
        self.received.append(
            Received(
                path=request.url.path,
                headers=dict(request.headers),
                body=await request.body(),
                answered=answer.status,
            )
        )
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    async def start(self) -> Receiver:
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = LoopbackServer(app, self.port)
        await self._server.start()
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
