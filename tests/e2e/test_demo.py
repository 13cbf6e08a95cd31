"""`advocacy run --demo` (`make run DEMO=1`): the demo organisation is made through the public
API once the platform is ready, every admin page's data is there, and making it again changes
nothing."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from advocacy_devtools import demo
from tests.e2e.conftest import SharedPlatform
from tests.live import RunningPlatform, rolled_up

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc"),
]


@pytest.fixture
def running(shared_platform: SharedPlatform) -> RunningPlatform:
    """`advocacy run --demo` (shared with other tests of tests/e2e, in organisations of their
    own: the demo organisation is this test's)."""
    return shared_platform.running


def demo_ready(platform: RunningPlatform, timeout: float = 300) -> float:
    """Seconds from `advocacy run` to the demo's announcement (printed with the figure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = platform.log.read_text()
        if match := re.search(r"Demo organisation ready in ([\d.]+) s", log):
            return platform.ready_after + float(match.group(1))
        assert "could not be made" not in log, log[-3000:]
        time.sleep(0.2)
    raise AssertionError(platform.log.read_text()[-3000:])


def test_the_demo_fills_every_page_and_is_made_once(running: RunningPlatform) -> None:
    took = demo_ready(running)
    print(f"\nthe demo organisation was ready {took:.1f} s after `advocacy run --demo` started")
    log = running.log.read_text()
    assert f"organisation `{demo.SLUG}`" in log
    assert demo.PASSWORD in log
    auth = {"Authorization": f"Bearer {running.admin_key()}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=30) as http:
        orgs = [o for o in http.get("/api/v1/orgs").json()["items"] if o["slug"] == demo.SLUG]
        assert len(orgs) == 1
        base = f"/api/v1/orgs/{orgs[0]['id']}"
        rolled_up(http, base)
        before = page_data(http, base)
        for page, count in before.items():
            assert count > 0, f"the {page} page would be empty: {before}"
        assert before["ambassadors"] == 12
        # A month of activity, not one day: the posts went out on days spread over the month,
        # and the dashboard's weeks show ambassadors active in more than one of them.
        assert before["days with posts"] >= 5, before
        assert before["active weeks"] >= 3, before
        assert before["leaders"] == 3
        assert before["members"] == 4

        # Signing in as the demo's program manager works with the printed password.
        signed = httpx.post(
            f"{running.base_url}/api/v1/auth/login",
            json={
                "organisation": demo.SLUG,
                "email": demo.email("program_manager"),
                "password": demo.PASSWORD,
            },
        )
        assert signed.status_code == 200, signed.text

    # Made again (as a second `make run DEMO=1` would): nothing new.
    again = asyncio.run(demo.seed(running.base_url, running.admin_key()))
    assert again.organisation_id == orgs[0]["id"]
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=30) as http:
        assert page_data(http, base) == before


def page_data(http: httpx.Client, base: str) -> dict[str, Any]:
    """What each admin page shows, counted through the API the pages call."""

    def items(path: str, **params: Any) -> list[dict[str, Any]]:
        response = http.get(f"{base}{path}", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["items"]
        return found

    def one(path: str) -> dict[str, Any]:
        response = http.get(f"{base}{path}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    ambassadors = items("/ambassadors")
    someone = ambassadors[0]["id"]
    summary = one("/metrics/summary")
    leadership = one("/metrics/leadership")
    comparison = one("/metrics/company-comparison")["comparison"]
    momentum = one("/metrics/momentum?weeks=8")
    rules = one("/compliance/rules")
    preview = one(f"/ambassadors/{someone}/suggestions/preview")
    return {
        "programs": len(items("/programs")),
        "ambassadors": len(ambassadors),
        "leaders": sum(1 for a in ambassadors if a["profile"]["leadership"]),
        "consents": len(one(f"/ambassadors/{someone}/consents")["changes"]),
        "consent texts": len(one("/consent-texts")["items"]),
        "members": len(items("/members")),
        "library": len(items("/content")),
        "approved": len(items("/content", status="approved")),
        "compliance rules": rules["version"],
        "suggestion preview": len(preview["items"]),
        "posts": len(items("/posts", post_state="published")),
        "days with posts": len(
            {p["published_at"][:10] for p in items("/posts", post_state="published")}
        ),
        "active weeks": sum(1 for week in momentum["weeks"] if week["active_ambassadors"]),
        "metrics posts": summary["totals"]["posts"],
        "reach": summary["totals"]["reach"],
        "emv": summary["emv"]["amount"],
        "rollup rows": len(one("/metrics/rollups/track")["items"]),
        "leadership posts": leadership["totals"]["posts"],
        "company posts": comparison["company_posts"],
        "active this week": momentum["weeks"][-1]["active_ambassadors"],
    }
