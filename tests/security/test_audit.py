"""Finding 8: erasure (by an `hr` key too), consent recorded or revoked on someone's behalf, and
role changes leave audit entries naming who did it and to whom (by id)."""

from __future__ import annotations

from tests.actors import (
    add_member,
    audit_log,
    bearer,
    new_ambassador,
    new_key,
    ready_organisation,
)
from tests.security.conftest import Live

CONSENT = {
    "consent_version": "2026-11",
    "consent_text": "I agree that the company may suggest posts for my own profile.",
    "allows_posting": True,
    "allows_analytics": False,
}


async def test_consent_on_someones_behalf_and_erasure_by_an_hr_key_are_audited(
    live: Live,
) -> None:
    org = await ready_organisation(live)
    hr_key = await new_key(live, org, "hr")
    hr = bearer(hr_key)
    ambassador = (await new_ambassador(live, org, "ada@acme.test", headers=hr))["id"]
    base = f"/api/v1/orgs/{org}/ambassadors/{ambassador}"

    granted = await live.http.post(f"{base}/consent", json=CONSENT, headers=hr)
    assert granted.status_code == 200, granted.text
    revoked = await live.http.delete(f"{base}/consent", headers=hr)
    assert revoked.status_code == 200, revoked.text
    erased = await live.http.delete(base, headers=hr)
    assert erased.status_code == 200, erased.text

    entries = {e["action"]: e for e in await audit_log(live, org)}
    for action in (
        "ambassador.consent_recorded",
        "ambassador.consent_revoked",
        "ambassador.erased",
    ):
        entry = entries[action]
        assert entry["target"] == f"ambassador:{ambassador}", entry
        assert entry["actor"].startswith(f"api_key:{hr_key['id']}"), entry
    assert entries["ambassador.consent_recorded"]["detail"] == {
        "consent_version": "2026-11",
        "allows_posting": True,
        "allows_analytics": False,
    }
    assert "ada@acme.test" not in str(entries)


async def test_role_changes_are_audited(live: Live) -> None:
    org = await ready_organisation(live)
    member = await add_member(live, org, "bo@acme.test", "analyst")
    changed = await live.http.patch(
        f"/api/v1/orgs/{org}/members/{member['user_id']}",
        json={"role": "program_manager"},
        headers=live.admin,
    )
    assert changed.status_code == 200, changed.text
    (entry,) = [e for e in await audit_log(live, org) if e["action"] == "member.role_changed"]
    assert entry["target"] == f"user:{member['user_id']}"
    assert entry["detail"] == {"role": "program_manager", "previous": "analyst"}
