"""`advocacy run` without a LinkedIn app starts the LinkedIn sandbox, says where, and an
ambassador connects through it over real HTTP, the sandbox's Allow page included."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import SharedPlatform
from tests.e2e.test_ambassadors import CONSENT
from tests.shared.helpers import polls

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # five processes to start: minutes on a loaded machine
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc"),
]


def test_advocacy_run_connects_linkedin_through_its_sandbox(
    shared_platform: SharedPlatform,
) -> None:
    platform = shared_platform.running
    auth = {"Authorization": f"Bearer {platform.admin_key()}"}
    sandbox = re.search(r"LinkedIn:\s+the sandbox at (\S+)", platform.log.read_text())
    assert sandbox is not None, platform.log.read_text()[-2000:]
    assert [name for _, name in platform.processes("advocacy_devtools.linkedin_sandbox")]
    with httpx.Client(base_url=platform.base_url, headers=auth, timeout=10) as api:
        org = api.post("/api/v1/orgs", json={"name": "Acme"}).json()["id"]
        for _ in polls():  # the ambassadors service provisions the organisation
            invited = api.post(
                f"/api/v1/orgs/{org}/ambassadors",
                json={"email": "ada@acme.dk", "display_name": "Ada"},
            )
            if invited.status_code != 503:
                break
            time.sleep(0.1)
        base = f"/api/v1/orgs/{org}/ambassadors/{invited.json()['id']}"
        assert api.post(f"{base}/consent", json=CONSENT).status_code == 200
        url = api.post(f"{base}/linkedin/authorize").json()["authorization_url"]
        assert url.startswith(sandbox.group(1))

        with httpx.Client(timeout=10) as browser:
            page = browser.get(url)
            assert page.status_code == 200
            assert "Allow" in page.text
            params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            allowed = browser.post(url.split("?")[0], data={**params, "decision": "allow"})
            assert allowed.status_code == 302
            back = browser.get(allowed.headers["location"])
        assert back.status_code == 200, back.text
        assert "LinkedIn is connected" in back.text
        status = api.get(f"{base}/linkedin").json()
        assert status["status"] == "connected"
