"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a real
``parcours serve`` on loopback, over a small demo store.

For every page: it loads, its charts hold data, the filter changes the figures, the console
stays clean, and a screenshot is written under test-output/web/.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from dashboard_demo import SEGMENT, copy_of_demo
from server_process import Server

import parcours
from parcours.analytics.stages.touchpoint_outcomes import touchpoint_outcomes
from parcours.server.keys import create_key

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "web"
#: more saved segments (besides the demo's ``SEGMENT``) to set side by side on the journey map
LANE_SEGMENTS = {"email_readers": "channel = 'email'", "store_visitors": "channel = 'store'"}

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing (make test installs it)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing: run `make test` or apt-get install chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A running ``parcours serve`` over a copy of the demo store, with a read key."""
    base = tmp_path_factory.getbasetemp()
    db = copy_of_demo(base, tmp_path_factory.mktemp("web") / "store.duckdb")
    with parcours.open(db) as store:
        key = create_key(store, "read", "dashboard-test")
        write_key = create_key(store, "write", "shop")
        admin_key = create_key(store, "admin", "dashboard-admin")
        for name, rule in LANE_SEGMENTS.items():  # lanes for the journey map's side-by-side view
            parcours.create_segment(store, name, rule, f"customers with {rule}")
    with Server(db) as srv:
        yield {"url": srv.url, "key": key, "write_key": write_key, "admin_key": admin_key, "db": db}
        logs = srv.logs()
    assert "Traceback" not in logs, logs  # no page failed on the server


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A signed-in page that records console errors and failed requests."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-GB")
    context.set_default_timeout(180_000)  # a cold page on a busy 2-core machine can take a while
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("response", lambda r: pg.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.goto(server["url"] + "/login")
    pg.fill("input[name=key]", server["key"])
    pg.click("button[type=submit]")
    pg.wait_for_url(server["url"] + "/")
    yield pg
    context.close()


def chart_data(pg) -> dict:
    """Per chart on the page: how many data points its traces hold (as drawn by Plotly)."""
    return pg.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.chart')].map(d => [d.id,
        (d.data || []).reduce((n, t) => n + ((t.x || t.y || t.z || (t.link && t.link.value) || []).length), 0)]))""")


def figures(pg) -> str:
    """What the page shows: every chart's data and every table cell, to compare two filters."""
    charts = pg.evaluate("() => JSON.stringify([...document.querySelectorAll('.chart')].map(d => d.data))")
    return charts + pg.inner_text("main")


PAGES = [
    ("journey_map", "/"),
    ("funnels", "/funnels"),
    ("paths", "/paths?touchpoint=product_page"),
    ("retention", "/retention"),
    ("attribution", "/attribution"),
    ("voc", "/voc?metric=csat"),
    ("segments", "/segments"),
    ("leads", "/leads"),
    ("data", "/data"),
]


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_page_loads_draws_data_and_follows_the_filter(page, server, name, path):
    response = page.goto(server["url"] + path)
    page.wait_for_load_state("networkidle")
    assert response.status == 200
    drawn = chart_data(page)
    assert drawn, f"{name}: no chart on the page"
    assert all(n > 0 for n in drawn.values()), f"{name}: empty chart(s) {drawn}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    before = figures(page)

    page.select_option("select[name=segment]", SEGMENT)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert f"segment={SEGMENT}" in page.url
    assert page.locator("select[name=segment]").input_value() == SEGMENT
    assert all(n > 0 for n in chart_data(page).values())
    assert figures(page) != before, f"{name}: the segment filter changed nothing"
    page.screenshot(path=str(SHOTS / f"{name}-segment.png"), full_page=True)
    assert page.problems == []


def test_journey_map_shows_stages_friction_and_links_to_evidence(page, server):
    page.goto(server["url"] + "/")
    stages = page.locator(".stage").evaluate_all("els => els.map(e => e.dataset.stage)")
    assert stages == ["awareness", "consideration", "decision", "retention", "advocacy"]
    assert page.locator(".tp[data-touchpoint=checkout] .chan").inner_text().lower() == "web"
    assert page.locator(".tp .mot").count() >= 1  # moments of truth are marked
    flagged = page.locator(".tp.flagged").evaluate_all("els => els.map(e => e.dataset.touchpoint)")
    assert "checkout" in flagged  # the demo plants payment errors at checkout
    everyone = int(page.locator("#kf-customers").inner_text().replace(",", ""))

    page.fill("input[name=from]", "2024-03-01")
    page.fill("input[name=to]", "2024-03-31")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    in_march = int(page.locator("#kf-customers").inner_text().replace(",", ""))
    assert 0 < in_march < everyone

    page.goto(server["url"] + "/")
    page.locator(".tp[data-touchpoint=checkout] a.flag").first.click()
    page.wait_for_load_state("networkidle")
    assert "/evidence?" in page.url and "touchpoint=checkout" in page.url
    assert page.locator("#signals tbody tr").count() >= 1
    page.screenshot(path=str(SHOTS / "evidence.png"), full_page=True)
    page.locator("#signals a.example").first.click()  # an example customer's profile
    page.wait_for_load_state("networkidle")
    assert page.locator("#customer-id").inner_text()
    assert page.problems == []


def test_journey_map_shows_conformance_variants_and_opportunities(page, server):
    page.goto(server["url"] + "/")
    shares = page.locator(".stage .stage-head .conformance").evaluate_all("els => els.map(e => +e.dataset.followed)")
    assert len(shares) == 5 and all(0 <= x <= 1 for x in shares) and min(shares) < 1
    assert page.locator(".tp .conformance").count() >= 10
    rows = page.locator("#variants tr.designed")
    assert rows.count() == 1 and page.locator("#variants tr").count() >= 3
    scores = page.locator("#opportunities tr[data-stage] td:nth-child(4)").evaluate_all(
        "els => els.map(e => +e.innerText)")
    assert len(scores) >= 3 and scores == sorted(scores, reverse=True)
    page.locator("#opportunities a[href^='/customers?q=']").first.click()  # an example customer
    page.wait_for_load_state("networkidle")
    assert page.locator("#customer-id").inner_text()
    page.goto(server["url"] + "/")
    page.locator("#opportunities a[href^='/evidence?']").first.click()  # a touchpoint's evidence
    page.wait_for_load_state("networkidle")
    assert "touchpoint=" in page.url
    assert page.problems == []


def test_journey_map_keeps_journey_order_with_outcomes_emotion_and_designer_lanes(page, server, tmp_path):
    with parcours.open(copy_of_demo(Path(server["db"]).parents[1], tmp_path / "demo.duckdb")) as store:
        config, outcomes = store.config, touchpoint_outcomes(store).set_index("touchpoint")
    page.goto(server["url"] + "/")
    for stage in config.stages:  # touchpoints in the journey file's order, not by customer count
        shown = page.locator(f".stage[data-stage={stage.name}] .tp").evaluate_all(
            "els => els.map(e => e.dataset.touchpoint)")
        assert shown == [t.name for t in config.touchpoints if t.stage == stage.name]
    flow = page.locator(".tp[data-touchpoint=checkout] .tp-flow")
    assert float(flow.get_attribute("data-conversion")) == pytest.approx(outcomes.loc["checkout", "conversion"])
    assert float(flow.get_attribute("data-dropoff")) == pytest.approx(outcomes.loc["checkout", "dropoff"])
    assert f"{outcomes.loc['checkout', 'conversion']:.0%} go on to a later stage" in flow.inner_text()
    assert "stop here" in flow.inner_text()
    assert "emotion" in page.inner_text(".tp[data-touchpoint=checkout]")  # its own emotion, besides its scores
    # the demo's awareness and advocacy stages have no survey answers: said on the stage and the curve
    assert page.inner_text(".stage[data-stage=awareness] .emotion.none") == "emotion: no answers"
    gaps = page.evaluate("""() => document.getElementById('chart-emotion').data
        .filter(t => (t.text || []).includes('no answers')).flatMap(t => t.x)""")
    assert gaps == ["Awareness", "Advocacy"]
    # the designer's lanes from the journey file, under the stages
    lanes = page.locator("#design-lanes tr[data-lane]").evaluate_all("els => els.map(e => e.dataset.lane)")
    assert lanes == ["goals", "thoughts", "pain_points", "opportunities", "owner"]
    assert page.inner_text("#design-lanes tr[data-lane=pain_points] td[data-stage=decision]") == \
        "Payment errors at checkout\nSurprise delivery fees"
    assert page.inner_text("#design-lanes tr[data-lane=owner] td[data-stage=decision]") == "Payments"

    page.select_option("select[name=order]", "measured")  # the measured typical order instead
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    shown = page.locator(".stage[data-stage=consideration] .tp").evaluate_all("els => els.map(e => e.dataset.touchpoint)")
    measured = outcomes[outcomes["stage"] == "consideration"].sort_values("position", kind="stable").index.tolist()
    assert shown == measured and shown != [t.name for t in config.touchpoints if t.stage == "consideration"]
    page.goto(server["url"] + "/?lang=fr")
    assert page.inner_text(".stage[data-stage=awareness] .emotion.none") == "émotion: aucune réponse"
    assert page.inner_text("#design-lanes tr[data-lane=goals] th") == "Objectifs du client"
    assert page.problems == []


def test_segments_and_periods_side_by_side_on_the_map(page, server):
    page.goto(server["url"] + "/")
    chosen = [SEGMENT, *LANE_SEGMENTS]
    for i, name in enumerate(chosen):  # persona lanes: up to three segments, picked in the filter bar
        page.locator("select[name=lane]").nth(i).select_option(name)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    lanes = page.locator("#compare tr.compare-lane")
    assert lanes.evaluate_all("els => els.map(e => e.dataset.lane)") == chosen
    reached = lanes.evaluate_all("els => els.map(e => [...e.querySelectorAll('td[data-stage]')].map(td => +td.dataset.reached))")
    assert len({r[0] for r in reached}) == 3 and all(len(r) == 5 and r == sorted(r, reverse=True) for r in reached)
    conversions = lanes.evaluate_all("els => els.map(e => e.querySelector('td[data-stage=consideration]').dataset.conversion)")
    assert len(set(conversions)) == 3  # the lanes' own figures, not one copied thrice
    assert "checkout" in page.inner_text(f"#compare tr[data-lane={SEGMENT}] .lane-friction")
    assert "needs 30 customers" in page.inner_text("#compare tr[data-lane=store_visitors] .lane-friction")
    curves = page.evaluate("() => document.getElementById('chart-lane-emotion').data.filter(t => t.mode === 'lines+markers').map(t => t.name)")
    assert curves == chosen
    said = page.evaluate("""() => document.getElementById('chart-lane-emotion').data
        .flatMap(t => (t.text || []).map((w, i) => w === 'no answers' ? t.x[i] : null)).filter(Boolean)""")
    assert said == ["Awareness", "Advocacy"]  # every lane lacks answers there: said once per stage
    assert page.locator("select[name=lane]").nth(2).input_value() == "store_visitors"  # the choice is kept
    assert all(n > 0 for n in chart_data(page).values())
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "journey_map-lanes.png"), full_page=True)

    page.goto(server["url"] + "/")  # two periods the same way
    page.locator("input[name=period]").nth(0).fill("2024-01-01..2024-03-31")
    page.locator("input[name=period]").nth(1).fill("2024-04-01..2024-06-30")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#compare h3") == "Two periods side by side"
    lanes = page.locator("#compare tr.compare-lane")
    assert lanes.evaluate_all("els => els.map(e => e.dataset.lane)") == ["2024-01-01..2024-03-31",
                                                                        "2024-04-01..2024-06-30"]
    first = lanes.evaluate_all("els => els.map(e => +e.querySelector('td[data-stage]').dataset.reached)")
    assert 0 < first[0] != first[1] > 0
    assert page.problems == []

    for query, message in [("lane=email_reader", "lane=: unknown segment 'email_reader'; did you mean email_readers?"),
                           ("period=2024-01-01..2024-03-31", "period=: give two periods to compare (1 given)"),
                           ("period=2024-03-01..2024-01-01&period=2024-04-01..2024-04-30",
                            "period='2024-03-01..2024-01-01': 2024-01-01 is before 2024-03-01"),
                           (f"lane={SEGMENT}&period=2024-01-01..2024-03-31&period=2024-04-01..2024-06-30",
                            "compare segments (lane=) or two periods (period=), not both"),
                           ("order=random", "order='random': use file or measured")]:
        response = page.goto(server["url"] + "/?" + query)
        assert response.status == 400 and message in page.inner_text("#page-error"), query


def test_customer_profile_search_by_identifier(page, server):
    page.goto(server["url"] + "/customers?q=nobody-has-this-id")
    assert "no customer has this identifier" in page.inner_text("#page-error")
    problems = [p for p in page.problems if "404" not in p]  # the not-found page answers 404 on purpose
    page.problems.clear()
    assert problems == []

    page.goto(server["url"] + "/funnels")
    page.locator("#dropped a").first.click()
    page.wait_for_load_state("networkidle")
    first = page.inner_text("#customer-id")
    assert chart_data(page)["chart-timeline"] > 0
    assert page.locator("#timeline tbody tr").count() >= 1
    page.screenshot(path=str(SHOTS / "customer.png"), full_page=True)
    identifier = page.locator("#identities td").nth(1).inner_text()
    page.fill("input[name=q]", identifier)
    page.click("#customer-search button")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#customer-id") == first  # any identifier finds the same customer
    assert page.problems == []


def test_followup_status_can_be_changed(page, server):
    """Changing state needs a write or admin key: the reader signs in again as admin; the form
    carries the session's CSRF token, so the change goes through in the browser."""
    page.goto(server["url"] + "/logout")
    page.goto(server["url"] + "/login?next=/voc")
    page.fill("input[name=key]", server["admin_key"])
    page.click("button[type=submit]")
    page.wait_for_url(server["url"] + "/voc")
    select = page.locator("select.followup-status").first
    assert select.input_value() == "open"
    with page.expect_navigation():
        select.select_option("contacted")
    page.wait_for_load_state("networkidle")
    assert page.locator("select.followup-status").first.input_value() == "contacted"
    assert page.problems == []


def test_french_labels_and_language_from_the_browser(browser, page, server):
    page.goto(server["url"] + "/?lang=fr")
    assert page.locator("header nav a.active").inner_text() == "Carte du parcours"
    axis = page.evaluate("() => document.getElementById('chart-emotion')._fullLayout.yaxis.title.text")
    assert axis == "émotion"  # chart legends and axis titles too
    page.goto(server["url"] + "/retention")  # the choice sticks (cookie)
    assert "Courbe de rétention" in page.inner_text("main")
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    pg = context.new_page()
    pg.goto(server["url"] + "/login")
    assert pg.locator("h1").inner_text() == "Connexion"
    context.close()


def test_reading_needs_a_login_or_a_read_key(browser, server):
    url = server["url"]
    assert httpx.get(url + "/", headers={"Accept": "text/html"}, follow_redirects=False).headers["location"] \
        == "/login?next=/"
    assert httpx.get(url + "/retention").status_code == 401
    assert httpx.get(url + "/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(url + "/", headers={"Authorization": f"Bearer {server['write_key']}"}).status_code == 401
    ok = httpx.get(url + "/attribution", headers={"Authorization": f"Bearer {server['key']}"}, timeout=60)
    assert ok.status_code == 200 and "chart-models" in ok.text
    forged = httpx.get(url + "/", cookies={"parcours_session": "pr_00000000.9999999999.deadbeef"},
                       headers={"Accept": "text/html"}, follow_redirects=False)
    assert forged.status_code == 303

    context = browser.new_context()
    pg = context.new_page()
    pg.goto(url + "/voc")
    assert pg.url.startswith(url + "/login")
    pg.fill("input[name=key]", server["write_key"])
    pg.click("button[type=submit]")
    assert "Unknown, revoked or non-read key." in pg.inner_text(".error")
    pg.fill("input[name=key]", server["key"])
    pg.click("button[type=submit]")
    pg.wait_for_load_state("networkidle")
    assert pg.url.startswith(url + "/voc")  # back where the reader was going
    context.close()


def test_bad_filter_is_a_clear_error(page, server):
    response = page.goto(server["url"] + "/?from=yesterday")
    assert response.status == 400
    assert "from='yesterday': give a date as YYYY-MM-DD" in page.inner_text("#page-error")
    response = page.goto(server["url"] + "/paths?touchpoint=nowhere")
    assert response.status == 400 and "nowhere" in page.inner_text("#page-error")
    response = page.goto(server["url"] + "/?segment=no_such_segment")
    assert response.status == 400 and "no_such_segment" in page.inner_text("#page-error")
    # a step no event has: the library's did-you-mean, the same line the CLI prints (issue 15)
    response = page.goto(server["url"] + "/funnels?step=site_visit&step=purchse")
    assert response.status == 400
    assert "step 2: unknown event 'purchse'; did you mean purchase?" in page.inner_text("#page-error")


def test_plotly_is_served_locally(server):
    js = httpx.get(server["url"] + "/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    html = httpx.get(server["url"] + "/", headers={"Authorization": f"Bearer {server['key']}"}, timeout=60).text
    assert "https://" not in html and "cdn" not in html.lower()


def test_live_view_refreshes_on_its_own(page, server):
    """The live view polls: an event sent after the page loaded appears without a reload."""
    page.goto(server["url"] + "/live")
    assert page.locator("#live-stages tbody tr").count() == 5  # the demo's five stages
    assert "live-probe" not in page.inner_text("#live-latest")
    r = httpx.post(server["url"] + "/v1/track", auth=(server["write_key"], ""), timeout=10,
                   json={"userId": "live-probe", "event": "add_to_cart", "messageId": "live-probe-1"})
    assert r.status_code == 200
    page.wait_for_function("() => document.querySelector('#live-latest').innerText.includes('live-probe')",
                           timeout=60_000)
    live = httpx.get(server["url"] + "/live.json", headers={"Authorization": f"Bearer {server['key']}"}, timeout=30)
    assert live.json()["latest"][0]["customer_id"] == "live-probe"
    assert sum(s["entries_last_hour"] for s in live.json()["stages"]) >= 1  # live-probe entered decision now
    assert page.problems == []


def test_the_map_refreshes_on_its_own(page, server):
    """The journey map polls the data version: a new customer shows in its key figures without a reload."""
    auth = {"Authorization": f"Bearer {server['key']}"}
    before = httpx.get(server["url"] + "/version.json", headers=auth, timeout=30).json()["version"]
    customers = page.inner_text("#kf-customers")
    page.evaluate("window.not_reloaded = true")
    r = httpx.post(server["url"] + "/v1/track", auth=(server["write_key"], ""), timeout=10,
                   json={"userId": "map-probe", "event": "site_visit", "messageId": "map-probe-1"})
    assert r.status_code == 200
    page.wait_for_function(f"() => document.querySelector('#kf-customers').innerText !== {customers!r}",
                           timeout=90_000)
    assert page.evaluate("window.not_reloaded") is True  # swapped in place, not a page reload
    assert httpx.get(server["url"] + "/version.json", headers=auth, timeout=30).json()["version"] != before
    assert page.problems == []
