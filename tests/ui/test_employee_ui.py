"""The employee's side of the admin UI, walked in headless Chromium: signed in with their own
account, the employee opens the invitation link, reads the consent text and accepts (which links
the account to their ambassador profile), connects LinkedIn through the sandbox's OAuth pages,
sees this week's suggestions with the why and the angle prompt, accepts one, writes the post in
their own words and schedules it, and finds it among their posts. Each page passes axe-core with
no serious or critical violation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.ui.axe import blocking_violations
from tests.ui.conftest import PASSWORD, Site, Tab

pytestmark = pytest.mark.slow

ITEM: dict[str, Any] = {
    "title": "Vi åbner et nyt kontor i Aarhus",
    "body": "Et nyt kontor med plads til 40 kolleger.",
    "kind": "company_news",
    "language": "da",
}


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def approved_item(site: Site, org: str, fields: dict[str, Any]) -> dict[str, Any]:
    item = _ok(site.api("POST", f"/api/v1/orgs/{org}/content", json=fields))
    _ok(site.api("POST", f"/api/v1/orgs/{org}/content/{item['id']}/submit"))
    return _ok(
        site.api(
            "POST", f"/api/v1/orgs/{org}/content/{item['id']}/review", json={"decision": "approve"}
        )
    )


def invited_employee(site: Site, email: str) -> str:
    """An invited ambassador with an account of the same address: the invitation's token."""
    org = site.org["id"]
    ambassador = _ok(
        site.api(
            "POST",
            f"/api/v1/orgs/{org}/ambassadors",
            json={"email": email, "display_name": "Ea Employee"},
        )
    )
    _ok(
        site.api(
            "POST",
            f"/api/v1/orgs/{org}/members",
            json={"email": email, "display_name": "Ea", "role": "ambassador", "password": PASSWORD},
        )
    )
    invitation = _ok(
        site.api(
            "POST", f"/api/v1/orgs/{org}/invitations", json={"ambassador_id": ambassador["id"]}
        )
    )
    token: str = invitation["url"].split("#", 1)[1]
    return token


@pytest.mark.timeout(300)
async def test_an_employee_accepts_connects_linkedin_and_schedules_a_suggested_post(
    tab: Tab,
) -> None:
    site, page = tab.site, tab.page
    approved_item(site, site.org["id"], ITEM)
    token = invited_employee(site, "ea@acme.example")

    await tab.open("signin")
    await page.get_by_label("Organisation").fill("acme")
    await page.get_by_label("Email").fill("ea@acme.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name="Your suggestions")).to_be_visible()
    await expect(page.get_by_text("not linked to an ambassador profile yet")).to_be_visible()

    await tab.open(f"invitation/{token}")
    await expect(page.get_by_role("heading", name="Invitation from Acme A/S")).to_be_visible()
    await expect(page.get_by_text("Consent text, version")).to_be_visible()
    assert await blocking_violations(page) == [], "employee-invitation"
    await tab.screenshot("employee-invitation")
    await page.get_by_role("button", name="Accept the invitation").click()
    await expect(page.get_by_text("You accepted the invitation.")).to_be_visible()
    await expect(page.get_by_text("Your account is linked")).to_be_visible()

    await page.get_by_role("button", name="Connect LinkedIn").click()
    await expect(page.get_by_role("heading", name="LinkedIn sandbox")).to_be_visible()
    await page.get_by_role("button", name="Allow").click()
    await expect(page.get_by_role("heading", name="LinkedIn is connected")).to_be_visible()

    await tab.open("me")
    await expect(page.get_by_text("LinkedIn connected")).to_be_visible()
    card = page.get_by_role("listitem", name=ITEM["title"])
    await expect(card).to_be_visible()
    await expect(card.get_by_text("Why:")).to_be_visible()
    await expect(card.get_by_text("Angle:")).to_be_visible()
    assert await blocking_violations(page) == [], "employee-suggestions"
    await tab.screenshot("employee-suggestions")
    await card.get_by_role("button", name="Accept and write").click()
    write = page.get_by_role("form", name=re.compile("^Write your post"))
    await expect(write.get_by_text("Start from the angle")).to_be_visible()
    await write.get_by_label("Your post").fill(
        "Vi vokser i Aarhus, og jeg glæder mig til nye kolleger!"
    )
    await write.get_by_role("button", name="Schedule the post").click()

    posts = page.get_by_role("table", name="Your posts")
    await expect(posts).to_contain_text("Vi vokser i Aarhus")
    await expect(posts).to_contain_text("scheduled")
    assert await blocking_violations(page) == [], "employee-posts"
    await tab.screenshot("employee-posts")

    await tab.open("me")
    await expect(page.get_by_role("listitem", name=ITEM["title"])).to_contain_text("accepted")
