"""The admin UI in a real browser: Debian's headless Chromium, driven by Playwright, against the
platform as `advocacy run` starts it (tests/live.py), over real HTTP.

Playwright's own browsers are never downloaded: the tests launch /usr/bin/chromium and are skipped,
with the reason, where it is not installed (`apt-get install chromium`; .ci/run installs it).

The platform and the browser are the package's: they stop when the run leaves tests/ui (its tests
are `slow`, so they run first), not at the session's end with the rest of the suite idling on
them; with pytest-xdist the package's tests run on one worker (`SHARED_PLATFORM_GROUPS`).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from advocacy_devtools import demo
from tests.live import ROLLUP_INTERVAL, rolled_up, running_platform

CHROMIUM = Path(os.environ.get("ADVOCACY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
SCREENSHOTS = os.environ.get("ADVOCACY_UI_SCREENSHOTS")
"""A folder to save the pages' pictures in (docs/admin-ui/ is made this way); unset: none."""

HAVE_CHROMIUM = CHROMIUM.exists()
NO_CHROMIUM = (
    f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); "
    "Playwright's own browsers are never downloaded"
)


@dataclass
class Site:
    """The running platform, an organisation in it, and accounts of each role (one password)."""

    base_url: str
    admin_key: str
    org: dict[str, Any]
    other_org: dict[str, Any]
    emails: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.base_url}{path}", headers=self.auth, timeout=30, **kwargs
        )


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("the live platform needs /proc (Linux)")
    folder = tmp_path_factory.mktemp("admin-ui")
    # Exports hold what was written up to now (not a minute ago): the demo was just seeded.
    with running_platform(
        folder,
        rate_limit_burst="1000000",
        bi_export_settle_seconds="0",
        rollup_interval_seconds=ROLLUP_INTERVAL,
    ) as platform:
        site = Site(platform.base_url, platform.admin_key(), {}, {})
        site.org = _created(
            site.api("POST", "/api/v1/orgs", json={"name": "Acme A/S", "slug": "acme"})
        )
        site.other_org = _created(
            site.api("POST", "/api/v1/orgs", json={"name": "Globex", "slug": "globex"})
        )
        for role in ("org_admin", "program_manager", "leadership_viewer", "analyst"):
            email = f"{role.replace('_', '.')}@acme.example"
            _created(
                site.api(
                    "POST",
                    f"/api/v1/orgs/{site.org['id']}/members",
                    json={"email": email, "display_name": role, "role": role, "password": PASSWORD},
                )
            )
            site.emails[role] = email
        site.emails["platform_admin"] = "root@platform.example"
        _created(
            site.api(
                "POST",
                "/api/v1/platform-admins",
                json={
                    "email": "root@platform.example",
                    "display_name": "Root",
                    "password": PASSWORD,
                },
            )
        )
        _playbook_ready(site, site.org["id"])
        _playbook_ready(site, site.other_org["id"])
        yield site


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _playbook_ready(site: Site, org_id: str) -> None:
    """The planner provisions an organisation from its event, a moment after the 201."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if site.api("GET", f"/api/v1/orgs/{org_id}/playbook").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the planner never provisioned the organisation")


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@dataclass
class Tab:
    """One browser tab, with every console error and refused request it saw."""

    page: Any
    site: Site
    errors: list[str] = field(default_factory=list)

    async def open(self, route: str = "") -> None:
        await self.page.goto(f"{self.site.base_url}/admin/#/{route}")

    async def screenshot(self, name: str) -> None:
        if SCREENSHOTS:
            await self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    async def sign_in(self, role: str, organisation: str | None = "acme") -> None:
        await self.open("signin")
        if organisation:
            await self.page.get_by_label("Organisation").fill(organisation)
        await self.page.get_by_label("Email").fill(self.site.emails[role])
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Sign in", exact=True).click()
        await self.page.get_by_role("button", name="Sign out").wait_for()


@pytest.fixture
async def tab(browser: Any, site: Site) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    tab = Tab(page, site)
    # Console errors include Content-Security-Policy refusals: the UI must need none.
    page.on(
        "console",
        lambda message: tab.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    await context.close()
    unexpected = [e for e in tab.errors if not _expected(e)]
    assert not unexpected, unexpected


def _expected(error: str) -> bool:
    """Problems the tests provoke on purpose show in the console as failed requests."""
    return bool(
        re.search(r"Failed to load resource: the server responded with a status of (4\d\d)", error)
    )


# --- The demo organisation (`advocacy run --demo`'s), for the pages with data ---------------


@dataclass
class Demo:
    """The demo organisation, its pilot, one of its ambassadors and one library item."""

    org: str
    program_id: str
    astrid: str
    item_id: str


@pytest.fixture(scope="package")
def demo_org(site: Site) -> Demo:
    summary = asyncio.run(demo.seed(site.base_url, site.admin_key))
    base = f"/api/v1/orgs/{summary.organisation_id}"
    with httpx.Client(base_url=site.base_url, headers=site.auth, timeout=30) as http:
        rolled_up(http, base)
    programs = site.api("GET", f"{base}/programs").json()["items"]
    people = site.api("GET", f"{base}/ambassadors", params={"limit": 200}).json()["items"]
    items = site.api("GET", f"{base}/content", params={"limit": 200}).json()["items"]
    return Demo(
        summary.organisation_id,
        programs[0]["id"],
        next(p["id"] for p in people if p["display_name"] == "Astrid Holm"),
        next(i["id"] for i in items if i["title"].startswith("How Nordfjord")),
    )


async def demo_sign_in(tab: Tab, role: str) -> None:
    """Sign in to the demo organisation as the account of `role` there."""
    page = tab.page
    await tab.open("signin")
    await page.get_by_label("Organisation").fill(demo.SLUG)
    await page.get_by_label("Email").fill(demo.email(role))
    await page.get_by_label("Password").fill(demo.PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.get_by_role("button", name="Sign out").wait_for()


async def shown(tab: Tab, route: str, heading: str | re.Pattern[str]) -> None:
    """Open `route` and wait for its page's heading."""
    from playwright.async_api import expect

    await tab.open(route)
    await expect(tab.page.get_by_role("heading", name=heading, level=1)).to_be_visible()
