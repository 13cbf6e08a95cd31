"""The accessibility check of every page: axe-core (vendored, tests/ui/vendor/axe-core) run in the
page through Playwright; a violation of `serious` or `critical` impact fails the test.

The script goes in through the DevTools protocol (`page.evaluate`), which the page's
Content-Security-Policy does not govern: the UI itself still loads nothing but its own files.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"
BLOCKING = {"serious", "critical"}
STANDARDS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@cache
def _source() -> str:
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "the vendored axe-core was changed"
    return source.decode()


async def blocking_violations(page: Any) -> list[str]:
    """Every serious or critical axe-core violation of the page as shown, one line each."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_source() + "\n;true")
    results = await page.evaluate(
        """async (tags) => {
            const found = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                                   resultTypes: ['violations']});
            return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }""",
        STANDARDS,
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
        for v in results
        if v["impact"] in BLOCKING
    ]
