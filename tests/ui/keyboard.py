"""Keyboard checks for the browser tests: every control of a page has an accessible name, and a walk
with the Tab key reaches each one, showing where the focus is.

The walk presses Tab until the focus comes back to where it started (the tab order is a cycle
through the page and the browser), so it sees every stop whatever the starting point. At each
stop it asks Chromium itself (the DevTools protocol's accessibility tree) for the control's
computed name and role, and the page for the focus indicator the stylesheet draws (an outline or
a shadow). Then every visible, enabled control of the page must have been a stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_STOPS = 600
"""More Tab presses than any page has stops: a walk that does not come back fails, not hangs."""

# What a keyboard user must be able to reach: links, form controls, disclosure summaries, and
# anything the page made focusable on purpose. A radio group is one stop.
CONTROLS = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex^='-']), [contenteditable=''], [contenteditable=true]"
)

_UNNAMED = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => !el.labels?.length && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
    .map(el => el.outerHTML)"""

# The focused element as a stop: numbers it (data-kb-stop) and describes it; null on the document.
_STOP = """(next) => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    if (el.tabIndex < 0) return null;  // focused by the page (its main part, a problem), not by Tab
    const seen = el.getAttribute('data-kb-stop');
    if (seen !== null) return {index: Number(seen), again: true};
    el.setAttribute('data-kb-stop', String(next));
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0
        && style.outlineColor !== 'rgba(0, 0, 0, 0)';
    const shadow = style.boxShadow !== 'none';
    const box = el.getBoundingClientRect();
    return {
        index: next,
        again: false,
        html: el.outerHTML.slice(0, 160),
        indicator: outline || shadow,
        visible: el.checkVisibility({checkVisibilityCSS: true}) && box.width > 1 && box.height > 1,
    };
}"""

_MISSED = """(selector) => {
    const reachedRadios = new Set([...document.querySelectorAll('input[type=radio][data-kb-stop]')]
        .map(el => el.name));
    return [...document.querySelectorAll(selector)]
        .filter(el => !el.hasAttribute('data-kb-stop') && !el.disabled && !el.closest('[inert]')
                      && el.checkVisibility({checkVisibilityCSS: true})
                      && !(el.type === 'radio' && reachedRadios.has(el.name)))
        .map(el => el.outerHTML.slice(0, 160));
}"""


@dataclass
class Stop:
    """One place the Tab key put the focus."""

    html: str
    role: str
    name: str
    indicator: bool
    visible: bool


@dataclass
class Walk:
    """The stops of one walk, in order, and the controls it never reached."""

    stops: list[Stop] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Each control the keyboard cannot reach, or reaches without a name or a visible focus."""
        found = [f"not reachable by Tab: {html}" for html in self.unreachable]
        for stop in self.stops:
            if not stop.name.strip():
                found.append(f"no accessible name ({stop.role}): {stop.html}")
            if not stop.indicator:
                found.append(f"no visible focus indicator: {stop.html}")
            if not stop.visible:
                found.append(f"focused while not visible: {stop.html}")
        return found

    def reached(self, role: str, name: str) -> bool:
        return any(stop.role == role and stop.name == name for stop in self.stops)


async def unnamed_controls(page: Any) -> list[str]:
    """Form controls and buttons that assistive technology could not name, as HTML."""
    found: list[str] = await page.evaluate(_UNNAMED)
    return found


async def walk(page: Any) -> Walk:
    """Press Tab from the current focus around the whole tab order once (see the module)."""
    await page.evaluate(
        "document.querySelectorAll('[data-kb-stop]')"
        ".forEach(el => el.removeAttribute('data-kb-stop'))"
    )
    cdp = await page.context.new_cdp_session(page)
    result = Walk()
    previous: int | None = None
    try:
        for _ in range(MAX_STOPS):
            await page.keyboard.press("Tab")
            stop = await page.evaluate(_STOP, len(result.stops))
            if stop is None:
                previous = None
                continue
            if stop["again"]:
                if stop["index"] == previous:
                    continue  # the parts of one control (a date's day, month, year)
                break  # around the whole cycle
            previous = stop["index"]
            role, name = await _accessible(cdp)
            result.stops.append(Stop(stop["html"], role, name, stop["indicator"], stop["visible"]))
        else:
            raise AssertionError(f"the Tab key never came back round after {MAX_STOPS} stops")
        result.unreachable = await page.evaluate(_MISSED, CONTROLS)
    finally:
        await cdp.detach()
    return result


async def _accessible(cdp: Any) -> tuple[str, str]:
    """The focused element's role and name as Chromium computes them for assistive technology."""
    focused = await cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})
    object_id = focused["result"]["objectId"]
    try:
        tree = await cdp.send(
            "Accessibility.getPartialAXTree", {"objectId": object_id, "fetchRelatives": False}
        )
    finally:
        await cdp.send("Runtime.releaseObject", {"objectId": object_id})
    node = tree["nodes"][0]
    return node.get("role", {}).get("value", ""), str(node.get("name", {}).get("value", ""))
