"""The independent SCIM 2.0 checker (scim2-tester) against the running platform, over real HTTP,
as an identity provider reaches it: an `hr` key, the rate limit lifted, Users and Groups.

The checker discovers what the server publishes (ServiceProviderConfig, ResourceTypes, Schemas)
and runs every check it has for each resource type: create, read (with `attributes` and
`excludedAttributes`), list, filter, `POST /.search`, replace, PATCH of every attribute (add,
replace, remove; multi-valued and extension attributes), delete, and wrong-typed values. Every
check must pass; a check the checker marks as skipped or as not applicable is reported, never
counted as a pass.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_tester import CheckResult, Status, check_server

from advocacy_devtools.embedded_nats import free_port
from tests.conftest import Platform
from tests.e2e.test_scim import auth, organisation_with_key
from tests.loopback import LoopbackServer

FAILURES = {Status.ERROR, Status.CRITICAL}
"""What the checker calls a violation of a MUST of RFC 7643/7644 (ERROR) or a security risk
(CRITICAL). SKIPPED is a check whose feature the server says it does not offer (bulk, ...)."""


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    # The checker sends a few hundred requests in a burst, as an identity provider's first sync.
    return {
        "rate_limit_per_minute": 100_000,
        "rate_limit_burst": 10_000,
        "rpc_timeout_seconds": 5.0,
    }


class HttpSCIMClient(BaseSyncSCIMClient):
    """scim2-client over a plain synchronous httpx client (its own engine wants `httpx2`)."""

    def __init__(self, http: httpx.Client) -> None:
        super().__init__()
        self.http = http

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException(str(exc)) from exc


def run_checker(base_url: str, key: str) -> list[CheckResult]:
    """scim2-tester with a synchronous HTTP client: run it off the test's event loop."""
    with httpx.Client(base_url=f"{base_url}/scim/v2", headers=auth(key), timeout=30) as http:
        return check_server(HttpSCIMClient(http))


ADVOCACY = "urn:ietf:params:scim:schemas:extension:advocacy:2.0:User"


def appended_as_rfc_7644_says(result: CheckResult) -> bool:
    """The one disagreement with the checker, and why it is the checker's.

    The checker patches the whole advocacy extension first (giving `languages` and `topics` a
    value), then sends `add` of one more value to `languages` (and `topics`) on the same User
    and expects to get back only the value it added. RFC 7644 §3.5.2.1 says: "If the target
    location specifies a multi-valued attribute, a new value is added to the attribute", so the
    earlier value stays and the answer is both (which this checks: the added value comes last,
    after what was there). When the random values happen to be the same, the check passes."""
    data = result.data if isinstance(result.data, dict) else {}
    expected, actual = data.get("expected"), data.get("modify_actual")
    return (
        result.title == "check_add_attribute"
        and str(data.get("urn")) in {f"{ADVOCACY}:languages", f"{ADVOCACY}:topics"}
        and isinstance(expected, list)
        and isinstance(actual, list)
        and len(actual) > len(expected)
        and actual[-len(expected) :] == expected
    )


def described(results: list[CheckResult]) -> str:
    return "\n".join(
        f"{r.status.name:8} {r.resource_type or '-':6} {r.title}: {r.reason or ''}"
        for r in results
        if r.status != Status.SUCCESS
    )


async def test_the_independent_scim_checker_finds_no_error_in_users_and_groups(
    platform: Platform,
) -> None:
    _, key = await organisation_with_key(platform, "Acme")
    server = LoopbackServer(platform.gateway.app, free_port())
    await server.start()
    try:
        results = await asyncio.to_thread(run_checker, f"http://127.0.0.1:{server.port}", key)
    finally:
        await server.stop()
    assert {r.resource_type for r in results} >= {"User", "Group"}, described(results)
    counts = Counter((r.resource_type or "-", r.status.name) for r in results)
    print(f"scim2-tester: {sorted(counts.items())}")  # shown with pytest -s
    failures = [r for r in results if r.status in FAILURES]
    assert [r for r in failures if not appended_as_rfc_7644_says(r)] == [], described(results)
    checked = [r for r in results if r.status == Status.SUCCESS]
    assert len(checked) >= 80, f"only {len(checked)} checks passed"
