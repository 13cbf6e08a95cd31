"""The pages added last, walked with the Tab key alone (tests/ui/keyboard.py): every control is
reached, named for assistive technology and shows where the focus is; the employee writes and
schedules a post without the mouse."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.ui.conftest import PASSWORD, Demo, Tab, demo_sign_in, shown
from tests.ui.keyboard import Walk, walk
from tests.ui.test_employee_ui import approved_item, invited_employee

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# Each page, and controls of it that must be among the stops (role and name, as Chromium has them).
DEMO_PAGES: list[tuple[str, str | re.Pattern[str], list[tuple[str, str]]]] = [
    (
        "content",
        "Content library",
        [("searchbox", "Title or text contains"), ("combobox", "Topic")],
    ),
    (
        "content/rules",
        "Compliance rules",
        [("textbox", "Required disclosure"), ("button", "Check")],
    ),
    ("content/preview/{astrid}", "Suggestion preview", [("combobox", "Ambassador")]),
    ("metrics", "Metrics", [("combobox", "Program"), ("link", "CSV of posts")]),
    ("roster-import", "Roster import", [("button", "Import")]),
    ("invitations", "Invitations", [("combobox", "Status")]),
]


async def settled(page: Page) -> None:
    """The page and every part it loads after its heading are shown, and the focus was put on
    its main part (as after every navigation): the walk starts from there."""
    await expect(page.get_by_text("Loading…")).to_have_count(0)
    await expect(page.locator("#main")).to_be_focused()


async def walked(page: Page, route: str, must_reach: list[tuple[str, str]]) -> Walk:
    result = await walk(page)
    assert result.problems() == [], f"#/{route}: {result.problems()}"
    for role, name in [("button", "Skip to content"), ("button", "Sign out"), *must_reach]:
        assert result.reached(role, name), (
            f"#/{route}: no Tab stop is the {role} {name!r}; the stops: "
            f"{[(s.role, s.name) for s in result.stops]}"
        )
    return result


async def test_every_control_of_the_new_admin_pages_is_reached_named_and_shows_its_focus(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "program_manager")
    for route, heading, must_reach in DEMO_PAGES:
        route = route.format(astrid=demo_org.astrid)
        await shown(tab, route, heading)
        await settled(page)
        await walked(page, route, [("link", "Metrics"), *must_reach])


async def test_the_walk_reports_a_control_out_of_reach_without_a_name_or_without_focus(
    tab: Tab, demo_org: Demo
) -> None:
    """The check can fail: three controls of the metrics page, each broken in one way."""
    page = tab.page
    await demo_sign_in(tab, "analyst")
    await shown(tab, "metrics", "Metrics")
    await settled(page)
    await page.evaluate(
        """() => {
            const link = [...document.querySelectorAll('a')]
                .find(a => a.textContent === 'CSV of posts');
            link.setAttribute('tabindex', '-1');
            const select = document.querySelector('select[name=period]');
            select.labels[0].remove();
            select.id = 'no-label';
            document.querySelector('input[name=since]').style.outline = 'none';
        }"""
    )
    result = await walk(page)
    problems = "\n".join(result.problems())
    assert re.search(r"not reachable by Tab: <a[^\n]*/metrics/export/posts\?format=csv", problems)
    assert re.search(r"no accessible name \(combobox\): <select[^\n]*name=\"period\"", problems)
    assert re.search(r"no visible focus indicator: <input[^\n]*name=\"since\"", problems)
    assert not result.reached("link", "CSV of posts")


async def _linked_employee(tab: Tab) -> None:
    """An employee of Acme with an approved item to be suggested, invited, signed in, consented."""
    site, page = tab.site, tab.page
    approved_item(
        site,
        site.org["id"],
        {
            "title": "Tastaturuge hos Acme",
            "body": "Hver side virker uden mus.",
            "kind": "company_news",
            "language": "da",
        },
    )
    token = invited_employee(site, "keys@acme.example")
    await tab.open("signin")
    await page.get_by_label("Organisation").fill("acme")
    await page.get_by_label("Email").fill("keys@acme.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name="Your suggestions")).to_be_visible()
    await tab.open(f"invitation/{token}")
    await page.get_by_role("button", name="Accept the invitation").click()
    await expect(page.get_by_text("Your account is linked")).to_be_visible()


async def test_an_employee_walks_their_suggestions_and_posts_and_schedules_one_by_keyboard(
    tab: Tab,
) -> None:
    page = tab.page
    await _linked_employee(tab)
    await tab.open("me")
    await expect(page.get_by_role("heading", name="Your suggestions")).to_be_visible()
    card = page.get_by_role("listitem", name="Tastaturuge hos Acme")
    await expect(card).to_be_visible()
    await settled(page)
    await walked(
        page,
        "me",
        [("link", "Your posts"), ("button", "Accept and write"), ("button", "Not for me")],
    )

    # Enter on the button opens the editor with the focus in it; Tab leads to the schedule button.
    await card.get_by_role("button", name="Accept and write").focus()
    await page.keyboard.press("Enter")
    write = page.get_by_role("form", name=re.compile("^Write your post"))
    await expect(write.get_by_label("Your post")).to_be_focused()
    await walked(page, "me", [("textbox", "Your post"), ("button", "Schedule the post")])
    await write.get_by_label("Your post").focus()
    await page.keyboard.type("A week without a mouse, and every page still works.")
    await _tab_to(page, "Schedule the post")
    await page.keyboard.press("Enter")

    posts = page.get_by_role("table", name="Your posts")
    await expect(posts).to_contain_text("A week without a mouse")
    await settled(page)
    await walked(page, "me/posts", [("button", "Edit"), ("button", "Cancel")])
    row = posts.get_by_role("row").filter(has_text="A week without a mouse")
    await row.get_by_role("button", name="Edit").focus()
    await page.keyboard.press("Enter")
    edit = page.get_by_role("form", name="Edit your post")
    await expect(edit.get_by_label("Your post")).to_be_focused()  # the form is above the table
    await walked(page, "me/posts", [("textbox", "Your post"), ("button", "Save")])


async def _tab_to(page: Page, name: str, limit: int = 20) -> None:
    """Press Tab until the focused element's text is `name`."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        text: Any = await page.evaluate("document.activeElement.textContent.trim()")
        if text == name:
            return
    raise AssertionError(f"{name!r} is not within {limit} Tab presses")
