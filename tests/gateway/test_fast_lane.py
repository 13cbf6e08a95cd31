"""The fast lane (advocacy_gateway.routes.fast_lane) answers exactly what FastAPI's router answers
for the same request, successes and refusals alike, and leaves to FastAPI what it does not serve."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import Depends
from fastapi.routing import APIRoute

from advocacy_gateway.ratelimit import Bucket, charge_route
from advocacy_gateway.routes.fast_lane import FastLane, lanes_of
from advocacy_shared.rpc import RpcClient
from advocacy_shared.telemetry import HTTP_RESPONSES
from tests.actors import admin_key, bearer, new_key, ready_organisation
from tests.conftest import Platform

PLAYBOOK = "/api/v1/orgs/{org}/playbook"
ORGANISATION = "/api/v1/orgs/{org}"
PROGRAMS = "/api/v1/orgs/{org}/programs"
PROGRAM = {
    "name": "Lane pilot",
    "owner": "Head of communications",
    "objectives": ["Sales & lead generation"],
    "disciplines": ["social_selling"],
    "capacity": {"fte_share": 0.5},
    "start_date": "2027-01-04",
}
JSON = {"Content-Type": "application/json"}
VARYING = {"x-correlation-id", "ratelimit-remaining", "date"}


def lane_of(platform: Platform) -> FastLane:
    """The lane, just inside FastAPI's server-error handler."""
    lane = cast(Any, platform.gateway.app.middleware_stack).app
    assert isinstance(lane, FastLane)
    return lane


@contextmanager
def lane_off(platform: Platform) -> Iterator[None]:
    """FastAPI's middleware and router alone, as they were before the lane."""
    outermost = cast(Any, platform.gateway.app.middleware_stack)
    lane = lane_of(platform)
    outermost.app = lane.app
    try:
        yield
    finally:
        outermost.app = lane


@pytest.fixture
def served(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the lane served itself."""
    paths: list[str] = []
    serve = FastLane._serve

    async def counting(self: FastLane, found: Any, body: Any, scope: Any, *args: Any) -> None:
        paths.append(scope["path"])
        await serve(self, found, body, scope, *args)

    monkeypatch.setattr(FastLane, "_serve", counting)
    return paths


async def both(
    platform: Platform, served: list[str], path: str, headers: dict[str, str]
) -> list[httpx.Response]:
    """The same request, through the lane and through FastAPI alone."""
    served.clear()  # what the set-up asked is not the test's
    headers = {"X-Correlation-Id": f"lane-{uuid.uuid4()}", **headers}
    through_lane = await platform.http.get(path, headers=headers)
    with lane_off(platform):
        through_fastapi = await platform.http.get(path, headers=headers)
    return [through_lane, through_fastapi]


def same(lane: httpx.Response, fastapi: httpx.Response) -> None:
    assert lane.status_code == fastapi.status_code
    assert lane.content == fastapi.content
    assert [(k, v) for k, v in lane.headers.multi_items() if k not in VARYING] == [
        (k, v) for k, v in fastapi.headers.multi_items() if k not in VARYING
    ]
    assert lane.headers.keys() == fastapi.headers.keys()


@pytest.mark.parametrize("route", [PLAYBOOK, ORGANISATION], ids=["forwarded", "hand-written"])
async def test_the_lane_answers_a_read_as_fastapi_does(
    platform: Platform, served: list[str], route: str
) -> None:
    org = await ready_organisation(platform.gateway)
    auth = await admin_key(platform.gateway, org)
    path = route.format(org=org)
    template = route.replace("{org}", "{org_id}")
    responses = HTTP_RESPONSES.labels("GET", template, "200")
    counted = responses._value.get()

    lane, fastapi = await both(platform, served, path, auth)

    assert lane.status_code == 200, lane.text
    same(lane, fastapi)
    assert served == [path]
    assert responses._value.get() == counted + 2  # labelled by the route's template both times


REFUSALS = ["no credential", "a bad key", "a key without the permission", "another organisation"]


@pytest.mark.parametrize(
    ("route", "case"),
    [(PLAYBOOK, case) for case in REFUSALS]
    # every key may read its own organisation: no key lacks that permission
    + [(ORGANISATION, case) for case in REFUSALS if "permission" not in case],
)
async def test_the_lane_refuses_as_fastapi_does(
    platform: Platform, served: list[str], case: str, route: str
) -> None:
    org = await ready_organisation(platform.gateway)
    other = await ready_organisation(platform.gateway, "Other")
    headers = {
        "no credential": {},
        "a bad key": {"Authorization": "Bearer adv_000000000000_" + "x" * 43},
        "a key without the permission": bearer(await new_key(platform.gateway, org, "hr")),
        "another organisation": await admin_key(platform.gateway, other),
    }[case]

    lane, fastapi = await both(platform, served, route.format(org=org), headers)

    assert lane.status_code in (401, 403, 404), lane.text
    same(lane, fastapi)
    # without a credential the rate limit charges the address at once: FastAPI's layers answer
    assert served == ([] if case == "no credential" else [route.format(org=org)])


async def test_a_caller_over_its_rate_limit_is_refused_as_fastapi_refuses_it(
    platform: Platform, served: list[str]
) -> None:
    org = await ready_organisation(platform.gateway)
    auth = await admin_key(platform.gateway, org)
    limiter = lane_of(platform).limiter
    path = PLAYBOOK.format(org=org)
    first = await platform.http.get(path, headers=auth)  # the key's bucket exists now
    assert first.status_code == 200, first.text
    [bucket] = [name for name in limiter.buckets if name.startswith("api_key:")]
    limiter.buckets[bucket] = Bucket(tokens=-1000.0, updated=time.monotonic())  # minutes away

    lane, fastapi = await both(platform, served, path, auth)

    assert lane.status_code == 429, lane.text
    assert int(lane.headers["retry-after"]) > 0
    assert lane.headers["ratelimit-remaining"] == "0"
    same(lane, fastapi)
    assert served == [path]


async def test_an_unhandled_error_ends_in_the_same_500(
    platform: Platform, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await ready_organisation(platform.gateway)
    auth = await admin_key(platform.gateway, org)
    path = PLAYBOOK.format(org=org)

    async def broken(*args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(RpcClient, "call_json", broken)
    transport = httpx.ASGITransport(app=platform.gateway.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        served.clear()
        through_lane = await http.get(path, headers=auth)
        with lane_off(platform):
            through_fastapi = await http.get(path, headers=auth)

    assert through_lane.status_code == 500
    same(through_lane, through_fastapi)
    assert served == [path]


@pytest.mark.parametrize(
    "route", ["/programs/{id}", "/webhooks/{id}"], ids=["a service's", "the gateway's"]
)
async def test_a_not_found_comes_out_as_the_same_problem(
    platform: Platform, served: list[str], route: str
) -> None:
    org = await ready_organisation(platform.gateway)
    auth = await admin_key(platform.gateway, org)
    path = f"/api/v1/orgs/{org}" + route.format(id=uuid.uuid4())

    lane, fastapi = await both(platform, served, path, auth)

    assert lane.status_code == 404, lane.text
    same(lane, fastapi)
    assert served == [path]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs/not-a-uuid/playbook",  # FastAPI's validation answers
        "/api/v1/orgs/{org}/playbook?version=1",  # a query: FastAPI parses it
        "/api/v1/orgs/{org}/programs/not-a-uuid",
        "/api/v1/orgs/{org}/members",  # a hand-written route with a query parameter
        "/api/v1/orgs/{org}/playbook/",  # FastAPI redirects
    ],
)
async def test_what_the_lane_does_not_serve_goes_to_fastapi(
    platform: Platform, served: list[str], path: str
) -> None:
    org = await ready_organisation(platform.gateway)
    auth = await admin_key(platform.gateway, org)

    lane, fastapi = await both(platform, served, path.format(org=org), auth)

    same(lane, fastapi)
    assert served == []


def test_only_plain_reads_and_writes_that_no_other_route_overlaps_get_a_lane(
    platform: Platform,
) -> None:
    reads = {lane.route.path for lane in lane_of(platform).lanes if lane.method == "GET"}
    assert "/api/v1/orgs/{org_id}/playbook" in reads
    assert "/api/v1/orgs/{org_id}/programs/{program_id}" in reads
    assert "/api/v1/orgs/{org_id}/programs" not in reads  # paged: FastAPI builds the page
    assert "/api/v1/orgs/{org_id}/metrics/momentum" not in reads  # a required query parameter
    assert "/api/v1/invitation" not in reads  # no organisation, a header parameter
    assert "/api/v1/orgs/{org_id}" in reads  # hand-written: the lane serializes its model
    assert "/api/v1/orgs/{org_id}/members" not in reads  # hand-written, paged
    writes = {lane.route.path for lane in lane_of(platform).lanes if lane.method == "POST"}
    assert "/api/v1/orgs/{org_id}/programs" in writes  # a forwarding write with a Location
    assert "/api/v1/orgs/{org_id}/api-keys" not in writes  # hand-written
    assert {lane.method for lane in lane_of(platform).lanes} == {"GET", "POST"}


def test_a_route_or_an_application_with_a_dependency_the_lane_would_skip_gets_no_lane(
    platform: Platform,
) -> None:
    playbook = next(
        lane.route for lane in lane_of(platform).lanes if lane.route.path.endswith("/playbook")
    )

    async def audited() -> None:
        """A dependency the lane does not know of."""

    guarded = APIRoute(
        playbook.path, playbook.endpoint, methods=["GET"], dependencies=[Depends(audited)]
    )
    charge = [Depends(charge_route)]
    assert [lane.route for lane in lanes_of([playbook], charge)] == [playbook]
    assert lanes_of([guarded], charge) == []
    assert lanes_of([playbook], [*charge, Depends(audited)]) == []


@pytest.fixture
async def programs(platform: Platform) -> tuple[str, dict[str, str]]:
    """A new organisation's programs path, and an admin key's header for it."""
    org = await ready_organisation(platform.gateway)
    return PROGRAMS.format(org=org), await admin_key(platform.gateway, org)


async def both_posts(
    platform: Platform, served: list[str], path: str, headers: dict[str, str], body: bytes
) -> list[httpx.Response]:
    """The same write, through the lane and through FastAPI alone (an `Idempotency-Key` given
    is made distinct for each, so that the second is not a replay of the first)."""
    served.clear()
    headers = {"X-Correlation-Id": f"lane-{uuid.uuid4()}", **headers}
    keyed = "Idempotency-Key" in headers
    through_lane = await platform.http.post(path, headers=unique_key(headers, keyed), content=body)
    with lane_off(platform):
        through_fastapi = await platform.http.post(
            path, headers=unique_key(headers, keyed), content=body
        )
    return [through_lane, through_fastapi]


def unique_key(headers: dict[str, str], keyed: bool) -> dict[str, str]:
    return {**headers, "Idempotency-Key": f"lane-{uuid.uuid4()}"} if keyed else headers


def created_alike(lane: httpx.Response, fastapi: httpx.Response) -> None:
    """Two creations answered alike: the same status, headers and body but for the new id (and
    the Location that names it) and the creation's time."""
    ids = [response.json()["id"] for response in (lane, fastapi)]
    masked = [
        re.sub(r'"created_at":"[^"]+"', "", response.text.replace(ids[n], "ID"))
        for n, response in enumerate((lane, fastapi))
    ]
    assert masked[0] == masked[1]
    assert lane.status_code == fastapi.status_code == 201
    assert masked_headers(lane, ids[0]) == masked_headers(fastapi, ids[1])
    assert lane.headers["location"].endswith(f"/programs/{ids[0]}")


def masked_headers(response: httpx.Response, new_id: str) -> list[tuple[str, str]]:
    return [
        (k, v.replace(new_id, "ID")) for k, v in response.headers.multi_items() if k not in VARYING
    ]


async def test_the_lane_answers_a_write_as_fastapi_does(
    platform: Platform, served: list[str], programs: tuple[str, dict[str, str]]
) -> None:
    path, auth = programs
    responses = HTTP_RESPONSES.labels("POST", PROGRAMS.replace("{org}", "{org_id}"), "201")
    counted = responses._value.get()

    body = json.dumps(PROGRAM).encode()
    lane, fastapi = await both_posts(platform, served, path, {**auth, **JSON}, body)

    assert lane.status_code == 201, lane.text
    created_alike(lane, fastapi)
    assert served == [path]
    assert responses._value.get() == counted + 2
    created = await platform.http.get(lane.headers["location"], headers=auth)
    assert created.status_code == 200
    assert created.json()["name"] == PROGRAM["name"]


INVALID_BODIES = {
    "a missing field": {k: v for k, v in PROGRAM.items() if k != "name"},
    "a wrong type": {**PROGRAM, "capacity": {"fte_share": "half"}},
    "an unknown discipline": {**PROGRAM, "disciplines": ["juggling"]},
    "not an object": ["a", "list"],
}


@pytest.mark.parametrize("case", [*REFUSALS, *INVALID_BODIES])
async def test_the_lane_refuses_a_write_as_fastapi_does(
    platform: Platform, served: list[str], case: str
) -> None:
    org = await ready_organisation(platform.gateway)
    other = await ready_organisation(platform.gateway, "Other")
    admin = await admin_key(platform.gateway, org)
    headers = {
        "no credential": {},
        "a bad key": {"Authorization": "Bearer adv_000000000000_" + "x" * 43},
        "a key without the permission": bearer(await new_key(platform.gateway, org, "hr")),
        "another organisation": await admin_key(platform.gateway, other),
    }.get(case, admin)
    body = json.dumps(INVALID_BODIES.get(case, PROGRAM)).encode()
    path = PROGRAMS.format(org=org)

    lane, fastapi = await both_posts(platform, served, path, {**headers, **JSON}, body)

    assert lane.status_code in (401, 403, 404, 422), lane.text
    same(lane, fastapi)
    assert served == ([] if case == "no credential" else [path])


@pytest.mark.parametrize(
    ("case", "headers", "body"),
    [
        ("an Idempotency-Key", {**JSON, "Idempotency-Key": "lane-key-1"}, json.dumps(PROGRAM)),
        ("another content type", {"Content-Type": "text/plain"}, json.dumps(PROGRAM)),
        ("a JSON subtype", {"Content-Type": "application/merge-patch+json"}, "{}"),
        ("no content type", {}, json.dumps(PROGRAM)),
    ],
)
async def test_a_write_the_lane_does_not_serve_goes_to_fastapi(
    platform: Platform,
    served: list[str],
    programs: tuple[str, dict[str, str]],
    case: str,
    headers: dict[str, str],
    body: str,
) -> None:
    path, auth = programs

    lane, fastapi = await both_posts(platform, served, path, {**auth, **headers}, body.encode())

    assert served == []
    if lane.status_code == 201:
        created_alike(lane, fastapi)
    else:
        same(lane, fastapi)


@pytest.mark.parametrize("body", [b"", b"{not json", b'{"name": '], ids=["empty", "bad", "cut"])
async def test_a_body_that_is_not_json_is_answered_by_fastapi_from_the_same_bytes(
    platform: Platform, served: list[str], programs: tuple[str, dict[str, str]], body: bytes
) -> None:
    path, auth = programs

    lane, fastapi = await both_posts(platform, served, path, {**auth, **JSON}, body)

    assert lane.status_code in (400, 422), lane.text
    same(lane, fastapi)


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "streamed"])
async def test_an_oversized_write_is_refused_as_fastapi_refuses_it(
    platform: Platform, served: list[str], programs: tuple[str, dict[str, str]], declared: bool
) -> None:
    path, auth = programs
    oversized = json.dumps({**PROGRAM, "name": "x" * (2 * 1024 * 1024)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 65536):
            yield oversized[start : start + 65536]

    headers = {**auth, **JSON, "X-Correlation-Id": f"lane-{uuid.uuid4()}"}
    answers = []
    for lane_on in (True, False):
        with contextlib.nullcontext() if lane_on else lane_off(platform):
            answers.append(
                await platform.http.post(
                    path, headers=headers, content=oversized if declared else chunks()
                )
            )

    assert answers[0].status_code == 413, answers[0].text
    same(*answers)


async def test_a_write_with_two_content_types_goes_to_fastapi(
    platform: Platform, served: list[str], programs: tuple[str, dict[str, str]]
) -> None:
    path, auth = programs
    headers = [*auth.items(), ("Content-Type", "text/plain"), ("Content-Type", "application/json")]
    served.clear()

    answer = await platform.http.post(path, headers=headers, content=json.dumps(PROGRAM))

    assert served == []
    assert answer.status_code == 422, answer.text  # FastAPI reads the first: not JSON
