"""The fast lane (advocacy_gateway.routes.fast_lane) answers exactly what FastAPI's router answers
for the same request, successes and refusals alike, and leaves to FastAPI what it does not serve."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import Depends
from fastapi.routing import APIRoute

from advocacy_gateway.ratelimit import charge_route
from advocacy_gateway.routes.fast_lane import FastLane, lanes_of
from advocacy_shared.telemetry import HTTP_RESPONSES
from tests.actors import admin_key, bearer, new_key, ready_organisation
from tests.conftest import Platform

PLAYBOOK = "/api/v1/orgs/{org}/playbook"
ORGANISATION = "/api/v1/orgs/{org}"
VARYING = {"x-correlation-id", "ratelimit-remaining", "date"}


def lane_of(platform: Platform) -> FastLane:
    lane = platform.gateway.app.router.middleware_stack
    assert isinstance(lane, FastLane)
    return lane


@contextmanager
def lane_off(platform: Platform) -> Iterator[None]:
    """FastAPI's router alone, as it was before the lane."""
    router = platform.gateway.app.router
    lane = lane_of(platform)
    router.middleware_stack = cast(Any, lane.app)
    try:
        yield
    finally:
        router.middleware_stack = lane


@pytest.fixture
def served(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the lane served itself."""
    paths: list[str] = []
    serve = FastLane._serve

    async def counting(self: FastLane, lane: Any, *args: Any) -> None:
        paths.append(args[2]["path"])
        await serve(self, lane, *args)

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
    assert served == [route.format(org=org)]


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


def test_only_plain_reads_that_no_other_route_overlaps_get_a_lane(platform: Platform) -> None:
    paths = {lane.route.path for lane in lane_of(platform).lanes}
    assert "/api/v1/orgs/{org_id}/playbook" in paths
    assert "/api/v1/orgs/{org_id}/programs/{program_id}" in paths
    assert "/api/v1/orgs/{org_id}/programs" not in paths  # paged: FastAPI builds the page
    assert "/api/v1/orgs/{org_id}/metrics/momentum" not in paths  # a required query parameter
    assert "/api/v1/invitation" not in paths  # no organisation, a header parameter
    assert "/api/v1/orgs/{org_id}" in paths  # hand-written: the lane serializes its model
    assert "/api/v1/orgs/{org_id}/members" not in paths  # hand-written, paged


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
