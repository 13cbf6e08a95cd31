"""Finding 6: readers of ambassadors see ids and aggregates, never names, emails or HR ids, unless
they may read personal data (program managers, admins, the HR system, or a key an admin gave the
`personal_data` scope); an `hr` key does not read staff emails from /members; the delivery log
keeps the receiver's status and time, never its body."""

from __future__ import annotations

from typing import Any

from advocacy_shared.contracts.ambassadors import AmbassadorOnboarded
from tests.actors import (
    add_member,
    bearer,
    new_ambassador,
    new_key,
    ready_organisation,
    sign_in,
)
from tests.gateway.webhook_receiver import Answer, Receiver
from tests.security.conftest import Live
from tests.shared.helpers import eventually

PERSONAL = ("email", "display_name", "external_id")
CONSENT = {
    "consent_version": "2026-11",
    "consent_text": "I agree that the company may suggest posts for my own profile.",
    "allows_posting": True,
    "allows_analytics": True,
}


async def _seen(live: Live, org: str, ambassador: str, http: Any, headers: dict[str, str]) -> Any:
    one = await http.get(f"/api/v1/orgs/{org}/ambassadors/{ambassador}", headers=headers)
    listed = await http.get(f"/api/v1/orgs/{org}/ambassadors", headers=headers)
    assert one.status_code == 200, one.text
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    return one.json(), item


async def test_bi_comms_analysts_and_leadership_see_ids_not_people(live: Live) -> None:
    org = await ready_organisation(live)
    ambassador = (await new_ambassador(live, org, "ada@acme.test", external_id="HR-77"))["id"]
    readers: list[tuple[str, Any, dict[str, str]]] = []
    for scope in ("bi", "comms"):
        readers.append((scope, live.http, bearer(await new_key(live, org, scope))))
    for role in ("analyst", "leadership_viewer"):
        await add_member(live, org, f"{role}@acme.test", role)
        browser = await sign_in(live, f"{role}@acme.test", organisation=org)
        readers.append((role, browser.http, {}))
    for who, http, headers in readers:
        for shown in await _seen(live, org, ambassador, http, headers):
            assert shown["id"] == ambassador, who
            assert {field: shown[field] for field in PERSONAL} == dict.fromkeys(PERSONAL), who

    granted = bearer(await new_key(live, org, "bi", "personal_data"))
    for shown in await _seen(live, org, ambassador, live.http, granted):
        assert shown["email"] == "ada@acme.test"
        assert shown["external_id"] == "HR-77"
    await add_member(live, org, "pm@acme.test", "program_manager")
    manager = await sign_in(live, "pm@acme.test", organisation=org)
    for shown in await _seen(live, org, ambassador, manager.http, {}):
        assert shown["display_name"] == "ada"


async def test_an_hr_key_does_not_read_staff_emails(live: Live) -> None:
    org = await ready_organisation(live)
    await add_member(live, org, "ada@acme.test", "analyst")
    hr = bearer(await new_key(live, org, "hr"))
    members = await live.http.get(f"/api/v1/orgs/{org}/members", headers=hr)
    assert members.status_code == 403, members.text
    assert "ada@acme.test" not in members.text


async def test_the_delivery_log_keeps_no_answer_body(live: Live) -> None:
    org = await ready_organisation(live)
    receiver = await Receiver().start()
    try:
        receiver.answer(Answer(status=500, body=b"internal: db password is hunter2"))
        hook = await live.http.post(
            f"/api/v1/orgs/{org}/webhooks",
            json={"url": receiver.url(), "event_types": [AmbassadorOnboarded.spec.type]},
            headers=live.admin,
        )
        assert hook.status_code == 201, hook.text
        ambassador = (await new_ambassador(live, org, "ada@acme.test"))["id"]
        consent = await live.http.post(
            f"/api/v1/orgs/{org}/ambassadors/{ambassador}/consent",
            json=CONSENT,
            headers=live.admin,
        )
        assert consent.status_code == 200, consent.text
        deliveries = f"/api/v1/orgs/{org}/webhooks/{hook.json()['id']}/deliveries"

        async def attempted() -> bool:
            items = (await live.http.get(deliveries, headers=live.admin)).json()["items"]
            return bool(items) and items[0]["attempts"] >= 1

        await eventually(attempted)
        listing = await live.http.get(deliveries, headers=live.admin)
        (delivery,) = listing.json()["items"]
        assert delivery["last_response_status"] == 500
        assert delivery["last_attempt_at"] is not None
        assert "hunter2" not in listing.text
    finally:
        await receiver.stop()
