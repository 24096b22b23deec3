"""The dashboard pages' data (``parcours.views.pages``) over the shared demo store: what each page
shows beyond "it renders" (the browser tests in test_web*.py check the rendering)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from dashboard_demo import copy_of_demo

import parcours
from parcours.query.filter import Filter
from parcours.views import charts, pages
from parcours.views.i18n import LABELS, number, percent, persona_name, translator


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = parcours.open(copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("pages") / "s.duckdb"))
    yield store
    store.close()


STEPS = ("stage:awareness", "stage:consideration", "stage:decision")


def test_numbers_follow_the_language():
    assert number(20103, "en") == "20,103" and number(20103, "fr") == "20\u202f103"
    assert number(1234.5, "fr", 1) == "1\u202f234,5" and number(None, "fr") == "–"
    assert percent(0.125, "en", 1) == "12.5%" and percent(0.125, "fr", 1) == "12,5\u202f%"


def test_funnel_chart_writes_whole_numbers_and_wraps_long_labels():
    spec = charts.funnel(["1. stage:awareness", "2. touchpoint:repeat_purchase"], [20103, 512])
    trace = spec["data"][0]
    assert "%{value:,d}" in trace["texttemplate"] and "textinfo" not in trace  # never 20.103k
    assert trace["y"] == ["1. stage:awareness", "2. touchpoint:<br>repeat_purchase"]
    assert charts.wrap("a" * 30) == "a" * 30  # a word longer than the width stays whole


def test_latest_periods_are_marked_incomplete_not_drawn_as_zero(demo):
    end = pd.Timestamp("2024-06-10")
    data = pages.funnel_page(demo, Filter(end=end), STEPS, "14d", "ordered", "", 2)
    complete, late = data["charts"]["trend"]["data"]
    assert late["name"] == "incomplete_period" and late["line"]["dash"] == "dot"
    # entries of the week of 20 May may convert until 10 June (7 + 14 days), after the data's end: not final
    assert complete["x"][-1] == "2024-05-13 00:00:00" and late["x"][1] == "2024-05-20 00:00:00"
    assert late["x"][0] == complete["x"][-1]  # the dotted part goes on from the last complete point
    assert pd.Timestamp(late["x"][-1]) >= end - pd.Timedelta(days=7)
    assert all(y is None or y > 0 for y in late["y"])
    assert "incomplete_period" in LABELS


def test_breakdown_by_utm_source_gives_the_sources(demo):
    data = pages.funnel_page(demo, Filter(), ("touchpoint:web_page", "touchpoint:cart"), "14d", "ordered",
                             "utm_source", 2)
    sources = {r["breakdown"] for r in data["table"]}
    assert {"google", "meta", "instagram", "tiktok", "newsletter"} <= sources
    assert {t["name"] for t in data["charts"]["breakdown"]["data"]} >= {"google", "no_value"}


def test_persona_cards_have_translated_names_and_spread_conversion(demo):
    data = pages.segments_page(demo, Filter())
    cards = data["cards"]
    en, fr = translator("en"), translator("fr")
    names = [persona_name(c["name_parts"], en) for c in cards]
    assert names == [c["name"] for c in cards] and len(set(names)) == len(names)
    assert all(not n.startswith("persona_") for n in names + [persona_name(c["name_parts"], fr) for c in cards])
    assert sum(0 < c["conversion"] < 1 for c in cards) >= 3  # not one buyers' persona and zeros elsewhere


# -- the pages as served (in process: Starlette's TestClient runs the real app over a demo copy) -------

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from fastapi.testclient import TestClient

    from parcours.server import create_app
    from parcours.server.keys import create_key

    db = copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("pagesapp") / "store.duckdb")
    with parcours.open(db) as store:
        keys = {role: create_key(store, role, f"{role}-p") for role in ("read", "admin")}
        # seven low answers lose their follow-up: the "+ Follow-ups" action has something to open
        store.con.execute("CREATE TEMP TABLE gone AS SELECT followup_id FROM followups ORDER BY followup_id DESC LIMIT 7")
        store.con.execute("DELETE FROM followup_history WHERE followup_id IN (SELECT followup_id FROM gone)")
        store.con.execute("DELETE FROM followups WHERE followup_id IN (SELECT followup_id FROM gone)")
    with TestClient(create_app(db)) as client:
        yield client, keys


def _get(app, path: str, role: str = "read", status: int = 200) -> str:
    client, keys = app
    client.cookies.clear()  # no language remembered from an earlier ?lang
    r = client.get(path, headers={"Authorization": f"Bearer {keys[role]}", "Accept": "text/html"})
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    return r.text


def test_funnel_table_numbers_follow_the_language(app):
    en = _get(app, "/funnels?lang=en")
    fr = _get(app, "/funnels?lang=fr")
    # the first count (a link to its customers on the funnel table)
    first_en = re.search(r'<td class="num">(?:<a [^>]*>)?([\d,]+)<', en).group(1)
    first_fr = re.search(r'<td class="num">(?:<a [^>]*>)?([\d\u202f]+)<', fr).group(1)
    assert first_en.replace(",", "") == first_fr.replace("\u202f", "") and int(first_en.replace(",", "")) >= 1000
    assert "," in first_en and "\u202f" in first_fr  # "3,209" and "3 209", never "3.209k"
    assert '"separators": ",\\u202f"' in fr or '"separators": ",\u202f"' in fr


def test_long_lists_are_paged_with_counts(app):
    first = _get(app, "/voc")
    total = int(re.search(r'id="followups-pager"><span class="pager-range">1–50 of ([\d,]+)', first)
                .group(1).replace(",", ""))
    assert total > 50 and first.count('class="followup-status"') == 50
    last_page = -(-total // 50)
    last = _get(app, f"/voc?page={last_page}")
    assert f"{(last_page - 1) * 50 + 1:,}–{total:,} of {total:,}" in last
    assert last.count('class="followup-status"') == total - (last_page - 1) * 50
    assert 'class="pager-next"' not in last and 'class="pager-prev"' in last
    error = _get(app, f"/voc?page={last_page + 1}", status=400)
    assert f"use 1 to {last_page}" in error
    leads = _get(app, "/leads")
    shown = int(re.search(r'id="leads-pager"><span class="pager-range">1–(\d+) of (\d+)', leads).group(2))
    assert 0 < shown <= 50 and "use 1 to 1" in _get(app, "/leads?page=2", status=400)
    evidence = _get(app, "/evidence?touchpoint=checkout")
    poor = re.search(r'id="poor-pager"><span class="pager-range">1–(\d+) of (\d+)', evidence)
    assert poor.group(1) == poor.group(2) and int(poor.group(2)) > 10  # under 50 poor answers: one page
    assert "use 1 to 1" in _get(app, "/evidence?touchpoint=checkout&page=2", status=400)


def test_opening_follow_ups_needs_a_write_key_and_says_how_many(app):
    read = _get(app, "/voc", "read")
    assert 'id="followups-readonly"' in read and 'action="/voc/followups"' not in read
    write = _get(app, "/voc", "admin")  # a dashboard session that may write: an admin key
    form = re.search(r'<form method="post" action="/voc/followups" id="open-followups" data-confirm="([^"]+)">', write)
    assert form.group(1) == "Open 7 follow-ups, one per low answer that has none yet?"
    assert "+ 7 follow-ups</button>" in write
    assert "Ouvrir 7 suivis" in _get(app, "/voc?lang=fr", "admin")
    client, keys = app
    r = client.post("/voc/followups", headers={"Authorization": f"Bearer {keys['admin']}"}, follow_redirects=False)
    assert r.status_code == 303
    assert 'id="followups-none-pending"' in _get(app, "/voc", "admin")  # all seven opened


def test_attribution_headers_are_words_and_none_is_explained(app):
    html = _get(app, "/attribution")
    head = re.search(r'id="attribution-table"><thead><tr>(.*?)</tr>', html).group(1)
    assert "<th>Channel</th>" in head and "<th>First touch</th>" in head and "first_touch" not in head
    assert "(no touch)" in html and "no event naming a channel" in html and ">(none)<" not in html
    assert re.search(r'<td class="num">\d+\.\d</td>', html)  # one decimal, not 60.514268
    fr = _get(app, "/attribution?lang=fr")
    assert "<th>Premier contact</th>" in fr and "(aucun contact)" in fr


def test_retention_start_and_return_events_are_chosen_on_the_page(app):
    html = _get(app, "/retention?start=purchase&back=purchase")
    assert re.search(r'<select name="start" id="retention-start">.*?<option selected>purchase</option>', html, re.S)
    assert re.search(r'<select name="back" id="retention-back">.*?<option selected>purchase</option>', html, re.S)
    assert '"texttemplate": "%{z:.0%}"' in html  # the rate written in each heatmap cell
    any_event = _get(app, "/retention")
    assert any_event.split('id="chart-heatmap"')[1] != html.split('id="chart-heatmap"')[1]
    error = _get(app, "/retention?start=purchse", status=400)
    assert "purchse" in error and "did you mean" in error.lower() and "purchase" in error


def test_empty_customer_search_gives_an_example_and_panels_have_distinct_titles(app):
    empty = _get(app, "/customers")
    example = re.search(r'id="customer-example">For example: <a href="/customers\?q=([^&"]+)', empty).group(1)
    profile = _get(app, f"/customers?q={example}")
    titles = re.findall(r"<h3>([^<]+)</h3>", profile)
    assert len(titles) == len(set(titles)) and "Stages over time" in titles and "Every event" in titles
    assert 'id="customer-id"' in profile


def test_persona_cards_show_names(app):
    html = _get(app, "/segments")
    names = re.findall(r'<div class="card persona"><h3>([^<]+)</h3>', html)
    assert len(names) >= 3 and not any(n.startswith("persona_") for n in names)
    fr = _get(app, "/segments?lang=fr")
    assert re.findall(r'<div class="card persona"><h3>([^<]+)</h3>', fr) != names


def test_a_flow_with_no_path_says_so(app):
    """A known step nobody took in the range: the table says why it is empty, in the reader's language."""
    quiet = "/flow?at=touchpoint%3Acart&direction=after&from=2030-01-01&to=2030-01-31"
    assert 'id="flow-empty"' in _get(app, quiet + "&lang=en")
    assert 'id="flow-empty"' not in _get(app, "/flow?at=touchpoint%3Acart&direction=after&lang=en")
