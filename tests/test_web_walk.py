"""The walks a reader takes through the dashboard, in English and in French, in a real browser.

- map -> a touchpoint's paths -> the customers on a path -> one customer's profile;
- funnel -> the paths between two of its steps -> a step seen there, added to the funnel.

Each step checks that the count followed is the count shown (a list has its link's count, the
funnel grows by the step chosen). The screenshots go to ``docs/screenshots/``, where
docs/dashboard.md shows them, so the docs show what the test saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_web import browser, page, server  # noqa: F401 - the shared fixtures

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def num(text: str) -> int:
    """A count as the page writes it, with the language's thousands separator ("3,183", "3 183")."""
    return int(text.replace(",", "").replace("\u202f", "").replace("\xa0", "").replace(" ", ""))


def shoot(pg, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS / f"{name}.png"))


def settle(pg, url_glob: str) -> None:
    pg.wait_for_url(url_glob)
    pg.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_map_to_paths_to_people_to_profile(page, server, lang):  # noqa: F811
    page.goto(f"{server['url']}/?lang={lang}")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == lang
    shoot(page, f"walk-{lang}-1-map")
    page.locator(".tp[data-touchpoint=cart] a.tp-explore").click()
    settle(page, "**/flow?**")
    assert "at=touchpoint%3Acart" in page.url or "at=touchpoint:cart" in page.url
    shoot(page, f"walk-{lang}-2-flow")
    first = page.locator("#flow-paths a.people-link").first
    count = num(first.inner_text())
    assert count > 0
    first.click()
    settle(page, "**/people?**")
    assert num(page.inner_text("#people-total")) == count  # the list holds the path's customers
    shoot(page, f"walk-{lang}-3-people")
    customer = page.locator("#people-table tbody a").first
    who = customer.inner_text()
    customer.click()
    settle(page, "**/customers?**")
    assert who in page.inner_text("main")
    shoot(page, f"walk-{lang}-4-profile")
    assert page.problems == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_funnel_to_paths_between_steps_to_a_new_step(page, server, lang):  # noqa: F811
    steps = "step=touchpoint%3Aproduct_page&step=touchpoint%3Acheckout&window=14d&mode=ordered"
    page.goto(f"{server['url']}/funnels?{steps}&lang={lang}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#funnel-table tbody tr").count() == 2
    page.locator("#funnel-table tbody tr").first.locator("a.flow-link").click()  # step 1's paths
    settle(page, "**/flow?**")
    page.select_option("select[name=direction]", "between")
    page.fill("input[name=until]", "touchpoint:checkout")
    page.click("form.filters button[type=submit]")
    settle(page, "**direction=between**")
    rows = page.locator("#flow-paths tbody tr td:nth-child(2)").all_inner_texts()
    reached = [r for r in rows if r.endswith("checkout")]
    assert reached and all(r.startswith("product_page") for r in reached), rows
    shoot(page, f"walk-{lang}-5-between")
    add = page.locator("#add-to-funnel a.add-step").first
    new_step = add.get_attribute("data-step")
    add.click()
    settle(page, "**/funnels?**")
    names = page.locator("#funnel-table tbody tr td:nth-child(2)").all_inner_texts()
    assert len(names) == 3 and new_step.split(":", 1)[1] in names[-1], names  # the funnel grew by that step
    shoot(page, f"walk-{lang}-6-funnel")
    assert page.problems == []
