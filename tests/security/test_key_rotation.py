"""Finding 9: rotation renews a key's secret, never its lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.security.conftest import Live
from tests.shared.helpers import eventually


async def _organisation(live: Live) -> str:
    response = await live.http.post("/api/v1/orgs", json={"name": "Rotors"}, headers=live.admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _key(live: Live, org: str, expires_at: datetime) -> dict[str, str]:
    response = await live.http.post(
        f"/api/v1/orgs/{org}/api-keys",
        json={"name": "bi", "scopes": ["bi"], "expires_at": expires_at.isoformat()},
        headers=live.admin,
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def _rotate(live: Live, org: str, key_id: str, overlap: int = 0) -> dict[str, str | None]:
    response = await live.http.post(
        f"/api/v1/orgs/{org}/api-keys/{key_id}/rotate",
        json={"overlap_seconds": overlap},
        headers=live.admin,
    )
    return {**response.json(), "status": str(response.status_code)}


async def test_rotation_keeps_the_expiry(live: Live) -> None:
    org = await _organisation(live)
    expiry = datetime.now(UTC) + timedelta(hours=1)
    key = await _key(live, org, expiry)
    rotated = await _rotate(live, org, key["id"], overlap=2 * 3600)  # outlasts the key
    assert rotated["status"] == "201"
    assert rotated["expires_at"] is not None
    assert datetime.fromisoformat(str(rotated["expires_at"])) == expiry


async def test_an_expired_key_cannot_be_rotated_into_a_living_one(live: Live) -> None:
    org = await _organisation(live)
    key = await _key(live, org, datetime.now(UTC) + timedelta(seconds=1))
    bearer = {"Authorization": f"Bearer {key['key']}"}

    async def refused() -> bool:
        return (await live.http.get(f"/api/v1/orgs/{org}", headers=bearer)).status_code == 401

    await eventually(refused)
    rotated = await _rotate(live, org, key["id"])
    assert rotated["status"] == "409", rotated


async def test_a_retired_key_cannot_be_rotated_again(live: Live) -> None:
    org = await _organisation(live)
    key = await _key(live, org, datetime.now(UTC) + timedelta(days=7))
    first = await _rotate(live, org, key["id"], overlap=3600)
    assert first["status"] == "201"
    again = await _rotate(live, org, key["id"], overlap=3600)
    assert again["status"] == "409", again
