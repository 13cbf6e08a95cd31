"""Finding 11: inputs that answered 500 are clear 4xx problems: deep or malformed SCIM filters,
naive datetimes in cursors and in `expires_at`, a readiness cursor of 200 zeros."""

from __future__ import annotations

import base64
from uuid import uuid4

from tests.actors import bearer, new_key, new_program, ready_organisation
from tests.security.conftest import Live


async def test_a_deeply_nested_scim_filter_is_an_invalid_filter(live: Live) -> None:
    org = await ready_organisation(live)
    hr = bearer(await new_key(live, org, "hr"))
    deep = "(" * 320 + 'userName eq "a"' + ")" * 320
    response = await live.http.get("/scim/v2/Users", params={"filter": deep}, headers=hr)
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidFilter"


async def test_a_lone_surrogate_in_a_scim_filter_is_an_invalid_filter(live: Live) -> None:
    org = await ready_organisation(live)
    hr = bearer(await new_key(live, org, "hr"))
    response = await live.http.get(
        "/scim/v2/Users", params={"filter": 'userName eq "\\ud800"'}, headers=hr
    )
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidFilter"


async def test_a_cursor_with_a_naive_datetime_is_a_bad_cursor(live: Live) -> None:
    org = await ready_organisation(live)
    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid4()}".encode()).decode()
    for path in (f"/api/v1/orgs/{org}/api-keys", f"/api/v1/orgs/{org}/audit-log"):
        response = await live.http.get(path, params={"cursor": cursor}, headers=live.admin)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["type"] == "urn:advocacy:problem:bad-cursor"


async def test_a_naive_expiry_is_a_validation_error(live: Live) -> None:
    org = await ready_organisation(live)
    response = await live.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "bi", "scopes": ["bi"], "expires_at": "2030-01-01T00:00:00"},
        headers=live.admin,
    )
    assert response.status_code == 422, response.text
    assert "expires_at" in response.text


async def test_a_readiness_cursor_of_zeros_is_a_bad_cursor(live: Live) -> None:
    org = await ready_organisation(live)
    program = await new_program(live, org)
    for cursor in ("0" * 200, "0", "007"):
        response = await live.http.get(
            f"/api/v1/orgs/{org}/programs/{program}/readiness",
            params={"cursor": cursor},
            headers=live.admin,
        )
        assert response.status_code == 400, (cursor, response.text)
