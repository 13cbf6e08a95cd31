"""The sandbox's `hold` fault: a call waits until released (or until the hold's limit), and the
sandbox says how many wait, so a test acts while LinkedIn "answers" without guessing a delay."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from advocacy_devtools import linkedin_sandbox
from advocacy_devtools.linkedin_sandbox import create_sandbox
from tests.shared.helpers import eventually

PATH = {"path": "/v2/userinfo"}


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_sandbox())
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox")


async def held(linkedin: httpx.AsyncClient) -> int:
    answer = await linkedin.get("/sandbox/faults/held", params=PATH)
    count: int = answer.json()["held"]
    return count


async def test_held_calls_wait_until_released_and_then_answer_with_the_fault() -> None:
    async with client() as linkedin:
        added = await linkedin.post(
            "/sandbox/faults", json={**PATH, "status": 503, "count": 2, "hold": True}
        )
        assert added.status_code == 204
        calls = [asyncio.create_task(linkedin.get(PATH["path"])) for _ in range(2)]

        async def both_held() -> bool:
            return await held(linkedin) == 2

        await eventually(both_held)
        assert not any(call.done() for call in calls)

        released = await linkedin.post("/sandbox/faults/release", json=PATH)

        assert released.json() == {**PATH, "held": 2}
        assert [(await call).status_code for call in calls] == [503, 503]
        assert await held(linkedin) == 0
        nothing = await linkedin.post("/sandbox/faults/release", json=PATH)
        assert nothing.json()["held"] == 0


async def test_a_call_nobody_releases_answers_once_the_hold_runs_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(linkedin_sandbox, "HOLD_LIMIT_SECONDS", 0.05)
    async with client() as linkedin:
        await linkedin.post("/sandbox/faults", json={**PATH, "status": 503, "hold": True})
        answer = await asyncio.wait_for(linkedin.get(PATH["path"]), timeout=10)
        assert answer.status_code == 503
        assert await held(linkedin) == 0
