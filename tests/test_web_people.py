"""The flow explorer and the customer lists in a real browser (Chromium, Playwright, ``parcours serve``).

A funnel step's count opens the list of those customers (the same count), which exports as
CSV and saves as a segment; the flow page opened from a touchpoint adds a step to the funnel.
The server, browser and signed-in page are ``test_web``'s fixtures.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
from test_web import browser, page, server  # noqa: F401 - the shared fixtures

ARGS = "step=stage:awareness&step=stage:consideration&step=stage:decision&window=14d&mode=ordered"


def num(text: str) -> int:
    """A count as the page writes it, with the language's thousands separator ("3,183", "3 183")."""
    return int(text.replace(",", "").replace("\u202f", "").replace("\xa0", "").replace(" ", ""))


def _admin(browser, server):  # noqa: F811 - the fixture's value
    """A page signed in with the admin key (saving a segment needs a write role)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(180_000)
    pg = context.new_page()
    pg.goto(server["url"] + "/login")
    pg.fill("input[name=key]", server["admin_key"])
    pg.click("button[type=submit]")
    pg.wait_for_url(server["url"] + "/")
    return context, pg


def test_funnel_step_to_people_to_csv_to_segment(browser, page, server):  # noqa: F811
    page.goto(f"{server['url']}/funnels?{ARGS}")
    row = page.locator("#funnel-table tbody tr").nth(1)
    count = num(row.locator("a.people-link").inner_text())
    assert count > 0
    row.locator("a.people-link").click()
    page.wait_for_url("**/people?**")
    assert num(page.inner_text("#people-total")) == count  # the list has the funnel's count
    assert page.locator("#people-table tbody tr").count() == min(count, 50)
    csv_href = page.get_attribute("#people-csv", "href")
    with page.expect_download() as download:
        page.click("#people-csv")
    ids = [r["customer_id"] for r in csv.DictReader(io.StringIO(Path(download.value.path()).read_text()))]
    assert len(ids) == len(set(ids)) == count
    page.click("#people-next")  # server-side paging
    assert page.locator("#people-table tbody tr").count() == min(count - 50, 50)

    people_url = page.url.replace("&page=2", "")

    # a read key cannot save: the reason, not a silent failure
    page.goto(people_url)
    page.fill("#save-segment input[name=name]", "reached_consideration")
    with page.expect_response(lambda r: "/people/segment" in r.url) as refused:
        page.click("#save-segment button[type=submit]")
    assert refused.value.status == 403

    context, admin = _admin(browser, server)
    try:
        admin.goto(people_url)
        admin.fill("#save-segment input[name=name]", "reached_consideration")
        admin.click("#save-segment button[type=submit]")
        admin.wait_for_url("**/segments?**")
        assert "reached_consideration" in admin.inner_text("#segment-saved")
        saved = admin.locator("#saved-segments tr", has_text="reached_consideration")
        assert num(saved.locator("a.segment-people").inner_text()) == count
    finally:
        context.close()
    query = parse_qs(urlparse(csv_href).query)
    assert query["set"] == ["funnel"] and query["reached"] == ["2"]
    segment_ids = httpx.get(f"{server['url']}/people.csv?set=segment&name=reached_consideration",
                            headers={"Authorization": f"Bearer {server['key']}"}, timeout=120).text.split()[1:]
    assert sorted(segment_ids) == sorted(ids)


def test_drop_off_count_and_its_paths_match_the_funnel(page, server):  # noqa: F811
    page.goto(f"{server['url']}/funnels?{ARGS}")
    row = page.locator("#funnel-table tbody tr").nth(2)
    dropped = num(row.locator("a.dropped-link").inner_text())
    row.locator("a.dropoff-flow").click()
    page.wait_for_url("**/flow?**")
    assert f"{dropped} " in page.inner_text("#dropoff-note")
    shown = page.locator("#flow-paths tbody tr td:nth-child(3)").all_inner_texts()
    assert sum(num(n) for n in shown) == dropped  # every dropped customer is on one path (or in (other))
    page.click("#dropoff-note a")
    assert num(page.inner_text("#people-total")) == dropped


def test_flow_from_a_touchpoint_adds_a_step_to_the_funnel(page, server):  # noqa: F811
    page.goto(f"{server['url']}/paths?touchpoint=cart")
    page.click("#explore-flow")
    page.wait_for_url("**/flow?**")
    page.wait_for_load_state("networkidle")
    assert page.locator("#flow-paths tbody tr").count() > 1
    # a path's count opens its customers: as many as the count
    first = page.locator("#flow-paths a.people-link").first
    n = num(first.inner_text())
    first.click()
    assert num(page.inner_text("#people-total")) == n
    page.go_back()
    # a click on a Sankey link opens its customers (the chart's own click event)
    target = page.evaluate("""() => { const d = document.getElementById('chart-flow');
        return d.data[0].link.customdata[0]; }""")
    value = page.evaluate("() => document.getElementById('chart-flow').data[0].link.value[0]")
    page.evaluate("""() => { const d = document.getElementById('chart-flow');
        d.emit('plotly_click', {points: [{customdata: d.data[0].link.customdata[0]}]}); }""")
    page.wait_for_url("**/people?**")
    assert "set=link" in target and num(page.inner_text("#people-total")) == value
    page.go_back()
    add = page.locator("#add-to-funnel a.add-step", has_text="checkout")
    step = add.get_attribute("data-step")
    add.click()
    page.wait_for_url("**/funnels?**")
    steps = [v for v in page.locator("input[name=step]").evaluate_all("els => els.map(e => e.value)") if v]
    assert steps == ["touchpoint:cart", step]
    assert page.locator("#funnel-table tbody tr").count() == 2
    assert page.problems == []


def test_flow_options_collapse_and_split(page, server):  # noqa: F811
    page.goto(f"{server['url']}/flow?at=touchpoint:product_page&direction=after&collapse=true")
    paths = page.locator("#flow-paths tbody tr td:nth-child(2)").all_inner_texts()
    assert any("×" in p for p in paths)
    assert not any("product_page > product_page" in p for p in paths)
    page.goto(f"{server['url']}/flow?at=touchpoint:cart&until=touchpoint:checkout&direction=between&split_by=channel")
    paths = page.locator("#flow-paths tbody tr td:nth-child(2)").all_inner_texts()
    assert any(p.startswith("cart (") for p in paths)
    page.goto(f"{server['url']}/flow?at=touchpoint:web_page&direction=after")
    other = page.locator("#flow-paths a.open-other")
    inside = num(other.inner_text())
    other.click()  # the (other) bucket opens: its paths, ranked after the first 15
    counts = page.locator("#flow-paths tbody tr td:nth-child(3)").all_inner_texts()
    assert sum(num(n) for n in counts) == inside
    assert page.locator("#flow-paths tbody tr td:first-child").first.inner_text() == "16"
    response = page.goto(f"{server['url']}/flow?direction=sideways")
    assert response.status == 400 and "direction='sideways'" in page.inner_text("main")
    page.problems.clear()  # the 400 was the point


def test_a_funnel_step_opens_its_flow_with_the_funnel_count(page, server):  # noqa: F811
    page.goto(f"{server['url']}/funnels?{ARGS}")
    row = page.locator("#funnel-table tbody tr").nth(1)
    count = num(row.locator("a.people-link").inner_text())
    row.locator("a.flow-link").click()
    page.wait_for_url("**/flow?**")
    note = page.locator("#funnel-step-note a")
    assert num(note.inner_text().split()[0]) == count
    assert page.locator("#flow-paths tbody tr").count() > 1
    note.click()
    assert num(page.inner_text("#people-total")) == count
    assert page.problems == []


def test_a_retention_cell_lists_its_retained_customers(page, server):  # noqa: F811
    page.goto(f"{server['url']}/retention?period=week")
    cell = page.evaluate("""() => { const d = document.getElementById('chart-heatmap').data[0];
        return {url: d.customdata[0][1], rate: d.z[0][1], label: d.y[0]}; }""")
    size = num(cell["label"].split("n=")[1].rstrip(")"))
    page.evaluate("""() => { const d = document.getElementById('chart-heatmap');
        d.emit('plotly_click', {points: [{customdata: d.data[0].customdata[0][1]}]}); }""")
    page.wait_for_url("**/people?**")
    assert "set=cohort" in page.url and "k=1" in page.url
    assert num(page.inner_text("#people-total")) == round(cell["rate"] * size)
    assert page.problems == []
