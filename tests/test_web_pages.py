"""The dashboard pages' data (``parcours.web.pages``) over the shared demo store: what each page
shows beyond "it renders" (the browser tests in test_web*.py check the rendering)."""

from __future__ import annotations

import pandas as pd
import pytest
from dashboard_demo import copy_of_demo

import parcours
from parcours.analytics.filters import Filter
from parcours.web import charts, pages
from parcours.web.i18n import LABELS, number, percent, persona_name, translator


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
