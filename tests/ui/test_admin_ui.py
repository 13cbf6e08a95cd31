"""The admin UI, walked in headless Chromium as its users would: sign in, create a program and
assess its readiness, invite an ambassador, add a webhook and an API key; what each role sees."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from advocacy_devtools.embedded_nats import free_port
from tests.ui.conftest import PASSWORD, Site, Tab
from tests.ui.keyboard import unnamed_controls

pytestmark = pytest.mark.slow


async def test_a_wrong_password_shows_the_problem_and_the_right_one_opens_the_program(
    tab: Tab,
) -> None:
    page = tab.page
    await tab.open()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await tab.screenshot("sign-in")
    await page.get_by_label("Organisation").fill("acme")
    await page.get_by_label("Email").fill(tab.site.emails["org_admin"])
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("wrong email or password")
    await expect(page.get_by_role("alert")).to_contain_text("(401)")

    await tab.sign_in("org_admin")
    await expect(page.get_by_role("heading", name="Programs", exact=True)).to_be_visible()
    await expect(page.get_by_text("No program yet")).to_be_visible()


async def test_a_program_manager_creates_a_program_assesses_readiness_and_overrides_a_graduation(
    tab: Tab,
) -> None:
    page = tab.page
    await tab.sign_in("program_manager")
    await tab.open("program")
    create = page.get_by_role("form", name="Create a program")
    await create.get_by_label("Name").fill("LinkedIn pilot 2027")
    await create.get_by_label("Owner").fill("Head of communications")
    await create.get_by_label("Sales & lead generation").check()
    await create.get_by_role("checkbox", name=re.compile("^Social selling")).check()
    await create.get_by_label("Start date").fill("2027-01-04")
    await create.get_by_role("button", name="Create program").click()

    await expect(page.get_by_role("heading", name="LinkedIn pilot 2027", level=1)).to_be_visible()
    await expect(page.get_by_text("Not assessed yet: the plan")).to_be_visible()
    findings = page.get_by_role("table", name="Findings")
    await expect(findings).to_contain_text("readiness_missing")
    await expect(page.get_by_text("Verdict: blocked")).to_be_visible()

    await page.get_by_text("Assess readiness", exact=True).click()
    assess = page.get_by_role("form", name="Assess readiness")
    await assess.get_by_label("Statement").fill("More qualified leads from our specialists")
    await assess.get_by_label("Title").first.fill("CEO")
    await assess.get_by_label("Approval").first.select_option("approved")
    await assess.get_by_label("Leadership openness").fill("4")
    await assess.get_by_label("Visibility appetite").fill("4")
    await assess.get_by_role("button", name="Save assessment").click()

    await expect(page.get_by_text(re.compile(r"Assessment 1 by user:"))).to_be_visible()
    elements = page.locator(".elements > li")
    await expect(elements).to_have_count(4)
    await expect(elements.filter(has_text="Culture")).to_contain_text("Leadership openness 4/5")
    await expect(elements.filter(has_text="Buy-in")).to_contain_text("CEO (leadership): approved")
    await expect(page.get_by_role("table", name="Start with")).to_contain_text("Social selling")

    await page.get_by_text("Set the pilot targets").click()
    targets = page.get_by_role("form", name="Set phase targets")
    await targets.get_by_label("Active rate").fill("0.6")
    await targets.get_by_label("Review date").fill("2027-03-31")
    await targets.get_by_role("button", name="Save targets").click()
    check = page.get_by_role("table", name="Graduation check")
    await expect(check).to_contain_text("active rate")
    await expect(check).to_contain_text("not met")
    await expect(page.locator("#graduation-verdict")).to_contain_text("Not ready to graduate")

    await page.get_by_text("Advance to targeted recruitment", exact=True).click()
    advance = page.get_by_role("form", name="Advance the phase")
    await advance.get_by_role("button", name=re.compile("Override and advance")).click()
    reason = advance.get_by_label("Why advance although targets are not met")
    assert await reason.evaluate("field => field.validity.valueMissing")  # required: not sent
    await expect(transitions_table(page)).to_contain_text("has not changed phase yet")
    await reason.fill("The board wants specialists on board before the trade fair")
    await advance.get_by_role("button", name=re.compile("Override and advance")).click()
    transitions = transitions_table(page)
    await expect(transitions).to_contain_text("override")
    await expect(transitions).to_contain_text("before the trade fair")
    await expect(page.locator(".page-header .badge")).to_have_text("targeted recruitment")
    await tab.screenshot("program")


def transitions_table(page: Page) -> Locator:
    return page.get_by_role("table", name="Phase transitions").or_(
        page.get_by_text("The program has not changed phase yet.")
    )


async def test_an_ambassador_is_invited_their_link_issued_and_a_new_consent_text_published(
    tab: Tab,
) -> None:
    page = tab.page
    await tab.sign_in("program_manager")
    await tab.open("ambassadors")
    invite = page.get_by_role("form", name="Invite an ambassador")
    await invite.get_by_label("Name").fill("Mette Hansen")
    await invite.get_by_label("Work email").fill("mette@acme.example")
    await invite.get_by_label("Leadership track").check()
    await invite.get_by_role("button", name="Invite").click()

    await expect(page.get_by_role("heading", name="Mette Hansen", level=1)).to_be_visible()
    await expect(page.get_by_role("table", name="Consent changes, oldest first")).to_have_count(0)
    await expect(page.get_by_text("No consent recorded yet")).to_be_visible()
    await page.get_by_role("button", name="Issue invitation link").click()
    link = page.locator(".notice code.secret")
    await expect(link).to_contain_text(f"{tab.site.base_url}/invitation#")

    await tab.open("invitations")
    await expect(page.get_by_role("table", name="Invitations")).to_contain_text("pending")
    await expect(page.get_by_role("table", name="Invitations")).to_contain_text("Mette Hansen")
    await page.get_by_text("Publish a new version").click()
    publish = page.get_by_role("form", name="Publish a consent text")
    await publish.get_by_label("Version").fill("1")  # the organisation's first text has it
    await publish.get_by_label("Text").fill(
        "I agree that Acme may suggest posts for my own profile."
    )
    await publish.get_by_role("button", name="Publish").click()
    await expect(publish.get_by_role("alert")).to_contain_text("409")
    await publish.get_by_label("Version").fill("2026-12")
    await publish.get_by_role("button", name="Publish").click()
    texts = page.get_by_role("table", name="Published versions")
    await expect(texts.get_by_role("row", name=re.compile("2026-12"))).to_contain_text("current")

    await tab.open("ambassadors")
    await expect(page.locator(".funnel li").first).to_contain_text("1 of 1")
    people = page.get_by_role("table", name="Ambassadors")
    await expect(people).to_contain_text("Mette Hansen")
    await page.get_by_label("State").select_option("active")
    await expect(page.get_by_text("Nobody matches these filters.")).to_be_visible()
    await page.get_by_label("State").select_option("invited")
    await page.get_by_label("Name or email contains").fill("mette")
    await expect(people).to_contain_text("mette@acme.example")
    await people.get_by_role("link", name="Mette Hansen").click()
    await expect(page.get_by_role("list", name="Onboarding steps")).to_contain_text("invited")
    await tab.screenshot("ambassador")
    await tab.open("ambassadors")
    await expect(page.get_by_role("table", name="Ambassadors")).to_be_visible()
    await tab.screenshot("ambassadors")


async def test_an_organisation_admin_adds_a_webhook_and_an_api_key_and_sees_them_audited(
    tab: Tab,
) -> None:
    page = tab.page
    await tab.sign_in("org_admin")
    await tab.open("settings/api-keys")
    await expect(page.get_by_text("No API key yet")).to_be_visible()
    create = page.get_by_role("form", name="Create an API key")
    await create.get_by_role("textbox", name="Name", exact=True).fill("HR system (Workday)")
    await create.get_by_role("checkbox", name=re.compile("^hr:")).check()
    await create.get_by_role("button", name="Create key").click()
    await expect(page.locator(".notice code.secret")).to_have_text(
        re.compile(r"^adv_[0-9a-f]{12}_")
    )
    key = await page.locator(".notice code.secret").inner_text()
    keys = page.get_by_role("table", name="API keys of this organisation")
    await expect(keys).to_contain_text("HR system (Workday)")
    await expect(keys).to_contain_text("active")
    # The key shown works against the API.
    async with httpx.AsyncClient(base_url=tab.site.base_url) as client:
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["scopes"] == ["hr"]

    await tab.open("settings/webhooks")
    await expect(page.get_by_text("No webhook yet")).to_be_visible()
    hook = page.get_by_role("form", name="Add a webhook")
    await hook.get_by_label("Endpoint URL").fill("https://hr.example.com/webhooks/advocacy")
    await hook.get_by_label("Every event type").check()
    await hook.get_by_role("button", name="Add webhook").click()
    # The API's problem, rendered: what was refused and why.
    await expect(hook.get_by_role("alert")).to_contain_text("Unprocessable Entity (422)")
    await expect(hook.get_by_role("alert")).to_contain_text("does not resolve")
    await hook.get_by_label("Endpoint URL").fill(f"http://127.0.0.1:{free_port()}/hook")
    await hook.get_by_role("button", name="Add webhook").click()
    await expect(page.locator(".notice code.secret")).to_have_text(re.compile(r"^whsec_"))
    await page.get_by_role("link", name="Open the webhook").click()
    await expect(page.get_by_text("Nothing delivered yet")).to_be_visible()
    await page.get_by_role("button", name="Disable the webhook").click()
    await expect(page.get_by_role("button", name="Enable the webhook")).to_be_visible()

    await tab.open("settings/audit")
    await expect(page.get_by_role("table", name="Audit entries")).to_contain_text("api_key")
    await tab.open("settings/members")
    await expect(page.get_by_role("table", name="People who sign in here")).to_contain_text(
        tab.site.emails["analyst"]
    )
    await tab.open("settings/sso")
    await expect(page.get_by_text("Single sign-on is not set up")).to_be_visible()
    await tab.open("settings/api-keys")
    await expect(page.get_by_role("table", name="API keys of this organisation")).to_be_visible()
    await tab.screenshot("api-keys")


async def test_each_role_sees_only_the_pages_it_may_use(tab: Tab) -> None:
    page = tab.page
    nav = page.get_by_role("navigation", name="Main")
    await tab.sign_in("analyst")
    await expect(nav.get_by_role("link", name="Program")).to_be_visible()
    await expect(nav.get_by_role("link", name="Leadership")).to_have_count(0)
    await expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    await tab.open("leadership")
    await expect(
        page.get_by_text("Your role does not include leadership visibility.")
    ).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    await tab.sign_in("leadership_viewer")
    await expect(nav.get_by_role("link", name="Leadership")).to_be_visible()
    await expect(nav.get_by_role("link", name="Webhooks")).to_have_count(0)
    await nav.get_by_role("link", name="Leadership").click()
    await expect(page.get_by_role("heading", name="Leadership", level=1)).to_be_visible()
    await expect(
        page.get_by_role("table", name="Ambassadors on the leadership track").or_(
            page.get_by_text("No leader has been invited yet.")
        )
    ).to_be_visible()
    await tab.screenshot("leadership")


async def test_a_platform_admin_switches_organisation(tab: Tab) -> None:
    page = tab.page
    await tab.sign_in("platform_admin", organisation=None)
    switcher = page.get_by_label("Organisation", exact=True)
    await expect(switcher.locator("option")).to_have_count(2)
    await switcher.select_option(label="Globex")
    await tab.open("program")
    await expect(page.get_by_text("No program yet")).to_be_visible()
    await switcher.select_option(label="Acme A/S")
    await expect(
        page.get_by_role("table", name="Programs of this organisation").or_(
            page.get_by_text("No program yet")
        )
    ).to_be_visible()
    await tab.open("organisations")
    await expect(page.get_by_role("table", name="Organisations on this platform")).to_contain_text(
        "globex"
    )


async def test_single_sign_on_for_an_organisation_without_it_says_so(tab: Tab) -> None:
    page = tab.page
    await tab.open("signin")
    sso = page.get_by_role("button", name="Sign in with single sign-on")
    await expect(sso).to_be_disabled()
    await page.get_by_label("Organisation").fill("acme")
    await sso.click()
    await expect(page.get_by_role("alert")).to_be_visible()


def test_the_ui_is_served_with_a_policy_that_allows_only_its_own_scripts_and_styles(
    site: Site,
) -> None:
    page = httpx.get(f"{site.base_url}/admin/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{site.base_url}/admin/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in script.headers["content-security-policy"]
    for missing in ("/admin/nothing.js", "/admin/../pyproject.toml", "/admin/js/../../app.py"):
        answer = httpx.get(f"{site.base_url}{missing}")
        assert answer.status_code == 404, missing
    assert httpx.get(f"{site.base_url}/admin").status_code == 308


async def test_a_second_tab_of_a_session_learns_its_csrf_token_and_can_make_changes(
    tab: Tab,
) -> None:
    """As a session opened by single sign-on: the tab never saw the sign-in's answer."""
    await tab.sign_in("org_admin")
    second = await tab.page.context.new_page()
    await second.goto(f"{tab.site.base_url}/admin/#/settings/api-keys")
    create = second.get_by_role("form", name="Create an API key")
    await create.get_by_role("textbox", name="Name", exact=True).fill("BI dashboard")
    await create.get_by_role("checkbox", name=re.compile("^bi:")).check()
    await create.get_by_role("button", name="Create key").click()
    await expect(second.locator(".notice code.secret")).to_have_text(re.compile(r"^adv_"))


def test_me_answers_a_sessions_csrf_token_and_none_to_an_api_key(site: Site) -> None:
    with httpx.Client(base_url=site.base_url) as browser:
        signed = browser.post(
            "/api/v1/auth/login",
            json={"organisation": "acme", "email": site.emails["analyst"], "password": PASSWORD},
        ).json()
        me = browser.get("/api/v1/auth/me")
        assert me.json()["csrf_token"] == signed["csrf_token"]
        assert me.headers["cache-control"] == "no-store"
    assert site.api("GET", "/api/v1/auth/me").json()["csrf_token"] is None


async def test_on_a_phone_nothing_overflows_and_the_keyboard_reaches_every_control(
    tab: Tab,
) -> None:
    page = tab.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await tab.sign_in("org_admin")
    for route in ("program", "ambassadors", "invitations", "settings/api-keys", "settings/audit"):
        await tab.open(route)
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"#/{route} scrolls sideways by {overflow}px"
    # The first Tab reaches the skip button, which moves focus to the page's content.
    await page.reload()  # a fresh load: focus starts at the document, not at the content
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "skip"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    # Every control in the page can be named by assistive technology.
    assert await unnamed_controls(page) == []
