"""The pages' new behaviour as a reader sees it in Debian's Chromium (Playwright against a real
``parcours serve``): the follow-ups confirmation, numbers in the reader's language on the drawn
charts, the incomplete trend period and the rates in the retention heatmap."""

from __future__ import annotations

import pytest
from dashboard_demo import copy_of_demo
from server_process import Server
from test_web import ARGS, CHROMIUM, sync_api  # the shared browser set-up, and its skip without Chromium

import parcours
from parcours.server.keys import create_key


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``parcours serve`` over a demo copy where three low answers have no follow-up yet; an admin key."""
    db = copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("webpages") / "store.duckdb")
    with parcours.open(db) as store:
        key = create_key(store, "admin", "pages-admin")
        store.execute("CREATE TEMP TABLE gone AS SELECT followup_id FROM followups ORDER BY followup_id LIMIT 3")
        store.execute("DELETE FROM followup_history WHERE followup_id IN (SELECT followup_id FROM gone)")
        store.execute("DELETE FROM followups WHERE followup_id IN (SELECT followup_id FROM gone)")
    with Server(db) as srv:
        yield {"url": srv.url, "key": key}
        logs = srv.logs()
    assert "Traceback" not in logs, logs


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-GB")
        context.set_default_timeout(180_000)
        pg = context.new_page()
        pg.problems = []
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.goto(server["url"] + "/login")
        pg.fill("input[name=key]", server["key"])
        pg.click("button[type=submit]")
        pg.wait_for_url(server["url"] + "/")
        yield pg
        browser.close()


def test_follow_ups_open_only_after_a_confirmation_naming_how_many(page, server):
    page.goto(server["url"] + "/voc")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#open-followups button")
    page.wait_for_load_state("networkidle")
    assert asked == ["Open 3 follow-ups, one per low answer that has none yet?"]
    assert page.locator("#open-followups").count() == 1  # dismissed: nothing opened
    page.once("dialog", lambda d: d.accept())
    page.click("#open-followups button")
    page.wait_for_selector("#followups-none-pending")
    assert page.problems == []


def test_drawn_charts_write_numbers_in_the_readers_language(page, server):
    page.goto(server["url"] + "/funnels?lang=fr&to=2024-06-10")
    page.wait_for_load_state("networkidle")
    funnel_text = page.inner_text("#chart-funnel")
    assert "\u202f" in funnel_text.replace("\u00a0", "\u202f") and "k" not in funnel_text.split("%")[0]
    names = page.evaluate("() => document.getElementById('chart-trend').data.map(t => t.name)")
    assert names == ["conversion", "incomplet : des conversions peuvent encore venir"]
    page.goto(server["url"] + "/retention?lang=en")
    page.wait_for_load_state("networkidle")
    cells = page.evaluate("() => [...document.querySelectorAll('#chart-heatmap text')].map(t => t.textContent)")
    assert "100%" in cells  # period 0 of a cohort, written in its cell
    assert page.problems == []
