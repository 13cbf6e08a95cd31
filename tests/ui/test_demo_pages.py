"""The demo organisation (`advocacy run --demo`), walked in headless Chromium: every admin page
shows its data, passes axe-core with no serious or critical violation, and is pictured for
docs/admin-ui/; the content workflow, the compliance rules, the metrics dashboard and the roster
import are used as their users would."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from advocacy_devtools import demo
from advocacy_shared.contracts.metrics import BI_COLUMNS
from tests.ui.axe import blocking_violations
from tests.ui.conftest import Demo, Tab, demo_sign_in, shown

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the walk: a dozen pages


async def check(tab: Tab, name: str, found: dict[str, list[str]]) -> None:
    """axe-core on the page as shown; its picture for the docs."""
    violations = await blocking_violations(tab.page)
    if violations:
        found[name] = violations
    await tab.screenshot(name)


async def test_every_page_of_the_demo_shows_its_data_with_no_serious_accessibility_violation(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    found: dict[str, list[str]] = {}
    await tab.open()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await check(tab, "sign-in", found)

    await demo_sign_in(tab, "program_manager")
    await shown(tab, "program", "Programs")
    await expect(page.get_by_role("link", name="LinkedIn pilot")).to_be_visible()
    await check(tab, "programs", found)
    await shown(tab, f"program/{demo_org.program_id}", "LinkedIn pilot")
    await check(tab, "program-demo", found)

    await shown(tab, "ambassadors", "Ambassadors")
    table = page.get_by_role("table", name="Ambassadors")
    await expect(table.get_by_role("row")).to_have_count(13)  # the header and a dozen
    await expect(page.locator(".funnel")).to_contain_text("12 of 12")
    await check(tab, "ambassadors-demo", found)
    await shown(tab, f"ambassadors/{demo_org.astrid}", "Astrid Holm")
    await expect(page.get_by_role("table", name="Consent changes, oldest first")).to_contain_text(
        "granted"
    )
    await check(tab, "ambassador-demo", found)
    await shown(tab, "invitations", "Invitations")
    await expect(page.get_by_role("table", name="Published versions")).to_contain_text("demo-1")
    await check(tab, "invitations", found)
    await shown(tab, "roster-import", "Roster import")
    await check(tab, "roster-import", found)
    await shown(tab, "leadership", "Leadership")
    leaders = page.get_by_role("table", name="Ambassadors on the leadership track")
    await expect(leaders.get_by_role("row")).to_have_count(4)
    await check(tab, "leadership-demo", found)

    await shown(tab, "content", "Content library")
    library = page.get_by_role("table", name="Library items")
    await expect(library).to_contain_text("How Nordfjord cut cloud costs")
    await expect(library).to_contain_text("in review")
    await check(tab, "content", found)
    await shown(tab, f"content/{demo_org.item_id}", re.compile("^How Nordfjord"))
    await expect(page.get_by_role("table", name="Every step, oldest first")).to_contain_text(
        "approved"
    )
    await check(tab, "content-item", found)
    await shown(tab, "content/rules", "Compliance rules")
    await expect(page.get_by_text("guaranteed returns, confidential")).to_be_visible()
    await check(tab, "compliance-rules", found)
    await shown(tab, f"content/preview/{demo_org.astrid}", "Suggestion preview")
    await expect(
        page.get_by_role("heading", name=re.compile(r"^Suggestions \(\d+\)"))
    ).to_be_visible()
    await expect(page.get_by_role("table", name=re.compile("^Why")).first).to_contain_text(
        "topic match"
    )
    await check(tab, "suggestion-preview", found)

    await shown(tab, "metrics", "Metrics")
    # 19 posts, of which the 6 by leaders are reported apart.
    await expect(page.locator(".kpi").first).to_contain_text("Posts13")
    await expect(
        page.get_by_role("img", name=re.compile("^Members reached per day"))
    ).to_be_visible()
    top_posts = page.get_by_role("table", name="Top posts by reach")
    await expect(top_posts.get_by_role("row")).to_have_count(1 + 10)
    await expect(page.get_by_role("heading", name="Leadership visibility")).to_be_visible()
    await expect(page.get_by_role("img", name=re.compile("^Reach by ambassador"))).to_be_visible()
    await check(tab, "metrics", found)

    await page.get_by_role("button", name="Sign out").click()
    await demo_sign_in(tab, "org_admin")
    for route, heading, name in [
        ("settings/webhooks", "Webhooks", "webhooks"),
        ("settings/api-keys", "API keys", "api-keys-demo"),
        ("settings/sso", "Single sign-on", "sso"),
        ("settings/members", "Members and roles", "members"),
        ("settings/audit", "Audit log", "audit"),
    ]:
        await shown(tab, route, heading)
        await check(tab, name, found)
    await expect(page.get_by_role("table").first).to_be_visible()
    assert found == {}, found


async def test_a_draft_that_breaks_a_rule_is_refused_then_fixed_submitted_and_approved(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "program_manager")
    await shown(tab, "content", "Content library")
    await page.get_by_text("Add an item", exact=True).click()
    add = page.get_by_role("form", name="Add a library item")
    await add.get_by_label("Title").fill("Our confidential roadmap")
    await add.get_by_label(re.compile("^Text")).fill("A confidential look at next year.")
    await add.get_by_label("Topics").fill("vision")
    await add.get_by_role("button", name="Add as draft").click()
    await expect(
        page.get_by_role("heading", name="Our confidential roadmap", level=1)
    ).to_be_visible()

    await page.get_by_role("button", name="Submit for review").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("confidential")
    await expect(alert).to_contain_text("(422)")

    await page.get_by_text("Edit the draft", exact=True).click()
    edit = page.get_by_role("form", name="Edit the draft")
    await edit.get_by_label("Title").fill("Our public roadmap")
    await edit.get_by_label(re.compile("^Text")).fill("A look at next year, in public.")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("heading", name="Our public roadmap", level=1)).to_be_visible()
    await page.get_by_role("button", name="Submit for review").click()
    await expect(page.locator(".page-header .badge")).to_have_text("in review")

    review = page.get_by_role("form", name="Review the item")
    await review.get_by_label("Decision").select_option("approve")
    await review.get_by_label("Note").fill("Cleared by legal")
    await review.get_by_role("button", name="Record the decision").click()
    await expect(page.locator(".page-header .badge")).to_have_text("approved")
    history = page.get_by_role("table", name="Every step, oldest first")
    for step in ("created", "edited", "submitted", "approved", "Cleared by legal"):
        await expect(history).to_contain_text(step)

    retire = page.get_by_role("form", name="Retire the item")
    await retire.get_by_label("Why retire it").fill("Superseded")
    await retire.get_by_role("button", name="Retire").click()
    await expect(page.locator(".page-header .badge")).to_have_text("retired")


async def test_an_analyst_reads_the_library_and_metrics_but_no_approval_and_no_leadership(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "analyst")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Content library")).to_be_visible()
    await expect(nav.get_by_role("link", name="Suggestion preview")).to_have_count(0)
    await shown(tab, f"content/{demo_org.item_id}", re.compile("^How Nordfjord"))
    await expect(page.get_by_role("form", name="Retire the item")).to_have_count(0)
    await expect(
        page.get_by_text("Your role may read this item but not change it.")
    ).to_be_visible()
    await shown(tab, "metrics", "Metrics")
    await expect(
        page.get_by_role("img", name=re.compile("^Active ambassadors per week"))
    ).to_be_visible()
    await expect(page.get_by_role("heading", name="Leadership visibility")).to_have_count(0)
    # The charts' numbers are also a table, for those who do not see the picture.
    await page.get_by_text("Show the data: Reach per post").click()
    await expect(page.get_by_role("table", name="Reach per post")).to_contain_text("Company page")


async def test_the_compliance_rules_are_changed_and_a_text_checked_against_them(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "program_manager")
    await shown(tab, "content/rules", "Compliance rules")
    rules = page.get_by_role("form", name="Change the compliance rules")
    await rules.get_by_label("Required disclosure").fill("#employee")
    await rules.get_by_role("button", name="Save the rules").click()
    in_force = page.get_by_role("region", name="In force")
    await expect(in_force.get_by_role("definition").first).to_have_text("#employee")
    checker = page.get_by_role("form", name="Check a text against the rules")
    await checker.get_by_label(re.compile("^Text")).fill("Guaranteed returns for everyone!")
    await checker.get_by_role("button", name="Check").click()
    verdict = page.get_by_role("alert")
    await expect(verdict).to_contain_text("blocked_phrase")
    await expect(verdict).to_contain_text("required_disclosure")
    await checker.get_by_label(re.compile("^Text")).fill("A fine day at the office #employee")
    await checker.get_by_role("button", name="Check").click()
    await expect(page.get_by_text("This text meets every rule.")).to_be_visible()
    # Put the demo's rules back: the other tests read them.
    base = f"/api/v1/orgs/{demo_org.org}"
    assert tab.site.api("PUT", f"{base}/compliance/rules", json=demo.RULES).status_code == 200


async def test_a_roster_file_is_imported_with_progress_and_each_bad_row_reported(
    tab: Tab, demo_org: Demo, tmp_path: Path
) -> None:
    page = tab.page
    key = tab.site.api(
        "POST",
        f"/api/v1/orgs/{demo_org.org}/api-keys",
        json={"name": "HR import", "scopes": ["hr"]},
    )
    assert key.status_code == 201, key.text
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "userName,displayName,email,leadership,topics\n"
        "mona@demo.example,Mona Krag,mona@demo.example,no,ai;data\n"
        '"nils@demo.example","Nils, Jr.",nils@demo.example,perhaps,\n'
        "olga@demo.example,Olga Bak,olga@demo.example,yes,vision\n"
    )
    await demo_sign_in(tab, "org_admin")
    await shown(tab, "roster-import", "Roster import")
    form = page.get_by_role("form", name="Import the roster")
    await form.get_by_label("CSV file").set_input_files(str(roster))
    await form.get_by_label("HR API key").fill("adv_wrong_key")
    await form.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("alert")).to_contain_text("(401)")

    await form.get_by_label("HR API key").fill(key.json()["key"])
    await form.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status").filter(has_text="Done")).to_contain_text(
        "2 created, 0 replaced, 1 failed (3 rows)"
    )
    await expect(page.get_by_role("progressbar", name="Rows imported")).to_have_attribute(
        "value", "3"
    )
    failures = page.get_by_role("table", name="Rows not imported")
    await expect(failures).to_contain_text("nils@demo.example")
    await expect(failures).to_contain_text("leadership must be true or false")
    await expect(page.get_by_role("link", name="Download the error report (CSV)")).to_be_visible()


async def test_on_a_phone_the_new_pages_do_not_scroll_sideways(tab: Tab, demo_org: Demo) -> None:
    page = tab.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await demo_sign_in(tab, "program_manager")
    pages: list[tuple[str, str | re.Pattern[str]]] = [
        ("content", "Content library"),
        (f"content/{demo_org.item_id}", re.compile("^How Nordfjord")),
        ("content/rules", "Compliance rules"),
        (f"content/preview/{demo_org.astrid}", "Suggestion preview"),
        ("metrics", "Metrics"),
        ("roster-import", "Roster import"),
    ]
    for route, heading in pages:
        await shown(tab, route, heading)
        await expect(page.get_by_text("Loading…")).to_have_count(0)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"#/{route} scrolls sideways by {overflow}px"


async def test_the_accessibility_check_finds_a_serious_violation_where_there_is_one(
    browser: Any,
) -> None:
    """The check itself can fail: an unlabelled field and an image without text are reported."""
    page = await browser.new_page()
    try:
        await page.set_content(
            '<html lang="en"><title>t</title><main><img src="x.png">'
            '<input type="text"></main></html>'
        )
        found = " ".join(await blocking_violations(page))
        assert "image-alt" in found
        assert "label" in found
    finally:
        await page.close()


def _csv_lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_the_bi_export_links_every_dataset_and_downloads_it_with_the_session(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "program_manager")
    await shown(tab, "metrics", "Metrics")
    export = page.get_by_role("region", name="BI export")
    await expect(export).to_contain_text("Your role may see leadership metrics")
    datasets = export.get_by_role("table", name="Datasets")
    await expect(datasets.get_by_role("row")).to_have_count(1 + len(BI_COLUMNS))
    for dataset in BI_COLUMNS:
        name = page.locator("code", has_text=re.compile(f"^{dataset}$"))
        row = datasets.get_by_role("row").filter(has=name)
        for fmt in ("csv", "parquet"):
            href = await row.get_by_role("link", name=re.compile(f"^{fmt} of", re.I)).get_attribute(
                "href"
            )
            assert href == f"/api/v1/orgs/{demo_org.org}/metrics/export/{dataset}?format={fmt}"

    # Through the page: the link, clicked, downloads the file the API streams.
    posts_csv = datasets.get_by_role("link", name="CSV of posts")
    async with page.expect_download() as started:
        await posts_csv.click()
    download = await started.value
    assert download.suggested_filename == "posts.csv"
    lines = _csv_lines(await asyncio.to_thread(Path(await download.path()).read_text))
    assert lines[0] == [name for name, _kind in BI_COLUMNS["posts"]]
    track = lines[0].index("track")
    assert {line[track] for line in lines[1:]} == {"ambassadors", "leadership"}

    # "Changed since" narrows the incremental datasets only.
    await export.get_by_label("Changed since (optional)").fill("2026-01-02")
    post_days = await datasets.get_by_role("link", name="CSV of post days").get_attribute("href")
    assert post_days is not None
    assert post_days.endswith("&since=2026-01-02T00%3A00%3A00Z")
    whole = await datasets.get_by_role("link", name="CSV of ambassadors").get_attribute("href")
    assert whole is not None
    assert "since" not in whole
    answer = await page.request.get(f"{tab.site.base_url}{post_days}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert _csv_lines(await answer.text())[0] == [n for n, _k in BI_COLUMNS["post_days"]]

    # A refusal is the API's problem on the page, not a failed download.
    await page.context.clear_cookies()
    await posts_csv.click()
    await expect(export.get_by_role("alert")).to_contain_text("Download refused")
    await expect(export.get_by_role("alert")).to_contain_text("(401)")
    await expect(export.get_by_role("alert")).to_be_focused()


async def test_an_analysts_bi_export_says_and_holds_no_leadership_rows(
    tab: Tab, demo_org: Demo
) -> None:
    page = tab.page
    await demo_sign_in(tab, "analyst")
    await shown(tab, "metrics", "Metrics")
    export = page.get_by_role("region", name="BI export")
    await expect(export).to_contain_text("Your role may not see leadership metrics")
    link = export.get_by_role("link", name="CSV of posts")
    answer = await page.request.get(f"{tab.site.base_url}{await link.get_attribute('href')}")
    assert answer.status == 200
    lines = _csv_lines(await answer.text())
    track = lines[0].index("track")
    assert {line[track] for line in lines[1:]} == {"ambassadors"}
