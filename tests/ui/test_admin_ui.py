"""The admin UI, walked in headless Chromium as its users would: sign in, create a program and
assess its readiness, invite an ambassador, add a webhook and an API key; what each role sees."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import expect

from tests.ui.conftest import Site, Tab


async def test_signing_in_with_a_wrong_password_shows_the_problem_then_the_right_one_opens_the_program(
    tab: Tab,
) -> None:
    page = tab.page
    await tab.open()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Organisation").fill("acme")
    await page.get_by_label("Email").fill(tab.site.emails["org_admin"])
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("wrong email or password")
    await expect(page.get_by_role("alert")).to_contain_text("(401)")

    await tab.sign_in("org_admin")
    await expect(page.get_by_role("heading", name="Programs", exact=True)).to_be_visible()
    await expect(page.get_by_text("No program yet")).to_be_visible()
    await page.screenshot(path="/tmp/adminui-programs.png", full_page=True)
