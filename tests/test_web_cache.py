"""The dashboard's query cache: hits while the data stands still, recomputes when it moves;
and the small pieces of the dashboard that need no browser (cookies, filters, languages)."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import load_events
from starlette.requests import Request

import parcours
from parcours.analytics.journey_map import journey_map
from parcours.analytics.stages.overview import stage_overview
from parcours.errors import ParcoursError
from parcours.server.gdpr import erase_person
from parcours.views import pages
from parcours.views.i18n import LABELS, Label, localize, translator
from parcours.web.cache import QueryCache
from parcours.web.request import language, page_filter
from parcours.web.session import cookie_key_id, make_cookie


def _events(user: str, day: int) -> list[dict]:
    return [{"user_id": user, "event": "ad_click", "timestamp": f"2024-03-{day:02d}T10:00:00Z"},
            {"user_id": user, "event": "product_view", "timestamp": f"2024-03-{day:02d}T10:05:00Z"}]


def test_cache_serves_until_new_events_arrive(store, tmp_path):
    load_events(store, _events("ann", 1), tmp_path, "a.jsonl")
    cache, calls = QueryCache(), []

    def reached() -> int:
        calls.append(1)
        return int(stage_overview(store)["reached"].iloc[0])

    assert cache.get(store, ("map", None), reached) == 1
    assert cache.get(store, ("map", None), reached) == 1
    assert len(calls) == 1 and cache.hits == 1
    load_events(store, _events("bob", 2), tmp_path, "b.jsonl")
    assert cache.get(store, ("map", None), reached) == 2  # a new batch: computed again
    assert len(calls) == 2
    parcours.create_segment(store, "ann_only", "events >= 1")
    assert cache.get(store, ("map", None), reached) == 2 and len(calls) == 3  # segments changed


def test_identity_changes_and_erasure_invalidate_without_new_events(store, tmp_path):
    """An unmerge or an erasure adds no event (the erasure removes some): the page is still recomputed."""
    load_events(store, _events("ann", 1) + _events("bob", 2), tmp_path, "a.jsonl")
    shared = {"email": "ann@example.com"}  # a later batch wrongly joins bob to ann through a shared email
    load_events(store, [{**_events("ann", 3)[0], "properties": shared},
                        {**_events("bob", 4)[0], "properties": shared}], tmp_path, "b.jsonl")
    cache, calls = QueryCache(), []

    def customers() -> int:
        calls.append(1)
        return journey_map(store)["customers"]

    assert cache.get(store, ("map", None), customers) == 1  # ann and bob stitched into one
    assert cache.get(store, ("map", None), customers) == 1 and len(calls) == 1
    parcours.unmerge(store, int(parcours.merges(store)["merge_id"].iloc[-1]))
    assert cache.get(store, ("map", None), customers) == 2 and len(calls) == 2
    assert cache.get(store, ("map", None), customers) == 2 and len(calls) == 2
    erase_person(store, "bob")
    assert cache.get(store, ("map", None), customers) == 1 and len(calls) == 3


def test_cache_keeps_filters_apart_and_bounded(store, tmp_path):
    load_events(store, _events("ann", 1), tmp_path)
    cache = QueryCache(max_entries=2)
    for i in range(3):
        assert cache.get(store, ("page", i), lambda i=i: i * 10) == i * 10
    assert cache.get(store, ("page", 0), lambda: "recomputed") == "recomputed"  # the oldest was dropped
    assert cache.get(store, ("page", 2), lambda: "never") == 20


def test_journey_map_follows_the_journey_file(store, tmp_path):
    load_events(store, _events("ann", 1) + _events("bob", 3), tmp_path)
    jm = journey_map(store)
    assert [s["name"] for s in jm["stages"]] == ["awareness", "consideration", "decision", "retention", "advocacy"]
    awareness, consideration = jm["stages"][0], jm["stages"][1]
    assert awareness["reached"] == 2 and consideration["current"] == 2
    assert awareness["conversion_to_next"] == 1.0
    declared = {t.name for t in store.config.touchpoints if t.stage == "decision"}
    assert {t["name"] for t in jm["stages"][2]["touchpoints"]} == declared  # unused ones are shown too
    only_march_3 = journey_map(store, parcours.Filter(start="2024-03-03"))
    assert only_march_3["customers"] == 1


def _request(query: str = "", headers: dict | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "query_string": query.encode(), "headers": raw})


def test_filter_and_language_from_the_request():
    filter = page_filter(_request("from=2024-03-01&to=2024-03-31&segment=vip"))
    assert (filter.start, filter.end, filter.segment) == (date(2024, 3, 1), date(2024, 3, 31), "vip")
    assert filter.to_filter().end.isoformat() == "2024-04-01T00:00:00"  # the last day is included
    with pytest.raises(ParcoursError, match="to=2024-02-01 is before from=2024-03-01"):
        page_filter(_request("from=2024-03-01&to=2024-02-01"))
    with pytest.raises(ParcoursError, match="from='03/01/2024': give a date as YYYY-MM-DD"):
        page_filter(_request("from=03/01/2024"))
    assert language(_request("lang=fr")) == "fr"
    assert language(_request(headers={"Accept-Language": "de-DE,fr;q=0.8,en;q=0.5"})) == "fr"
    assert language(_request("lang=xx", headers={"Accept-Language": "de"})) == "en"
    assert all(len(pair) == 2 and all(pair) for pair in LABELS.values())


def test_session_cookie_is_signed_and_expires():
    secret, other = b"s" * 32, b"o" * 32
    cookie = make_cookie(secret, "pr_1234abcd", now=1_000)
    assert cookie_key_id(secret, cookie, now=2_000) == "pr_1234abcd"
    assert cookie_key_id(other, cookie, now=2_000) is None  # another store's secret
    assert cookie_key_id(secret, cookie, now=1_000 + 8 * 86400) is None  # expired after a week
    key_id, expiry, sig = cookie.split(".")
    assert cookie_key_id(secret, f"pa_1234abcd.{expiry}.{sig}", now=2_000) is None  # tampered id
    assert cookie_key_id(secret, "garbage", now=2_000) is None


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from dashboard_demo import copy_of_demo

    path = copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("charts") / "demo.duckdb")
    with parcours.open(path) as store:
        yield store


def _labels(spec) -> set[str]:
    """The ``Label`` keys left in a chart spec."""
    if isinstance(spec, Label):
        return {str(spec)}
    if isinstance(spec, dict):
        return set().union(*map(_labels, spec.values())) if spec else set()
    if isinstance(spec, list | tuple):
        return set().union(*map(_labels, spec)) if spec else set()
    return set()


def test_chart_legends_and_axis_titles_follow_the_language(demo):
    """Every page's charts carry label keys that exist in both languages, and read French with ?lang=fr."""
    filter = parcours.Filter()
    specs = {
        "journey_map": pages.journey_page(demo, filter)["charts"],
        "funnels": pages.funnel_page(demo, filter, tuple(pages.default_steps(demo)), "14d", "ordered", "channel", 2)["charts"],
        "paths": pages.paths_page(demo, filter, "", "from")["charts"],
        "retention": pages.retention_page(demo, filter, "week")["charts"],
        "attribution": pages.attribution_page(demo, filter, "channel")["charts"],
        "voc": pages.voc_page(demo, filter, "nps")["charts"],
        "data": pages.data_page(demo, filter)["charts"],
    }
    keys = _labels(specs)
    assert {"emotion", "reached", "lost_next", "week", "conversions", "model_markov", "path_end"} <= keys
    assert keys <= set(LABELS), keys - set(LABELS)
    fr, en = localize(specs, translator("fr")), localize(specs, translator("en"))
    assert not _labels(fr) and not _labels(en)  # plain strings once drawn
    emotion = fr["journey_map"]["emotion"]
    assert emotion["layout"]["yaxis"]["title"] == {"text": "émotion"} and emotion["data"][0]["name"] == "émotion"
    assert [t["name"] for t in fr["journey_map"]["reached"]["data"]] == ["ont atteint", "perdus avant l'étape suivante"]
    assert fr["retention"]["heatmap"]["layout"]["xaxis"]["title"] == {"text": "semaine"}
    assert en["retention"]["heatmap"]["layout"]["xaxis"]["title"] == {"text": "week"}
    models = {t["name"] for t in fr["attribution"]["models"]["data"]}
    assert {"premier contact", "chaîne de Markov", "valeur de Shapley"} <= models
    assert "(fin)" in fr["paths"]["sankey"]["data"][0]["node"]["label"]
    assert "(end)" in en["paths"]["sankey"]["data"][0]["node"]["label"]
    assert specs["journey_map"]["emotion"]["data"][0]["name"] == "emotion"  # the cached spec itself is unchanged


def test_parts_that_ignore_the_filter_are_computed_once_for_every_filter(demo):
    """Personas and the store's counts do not depend on the filter: a new filter reuses them."""
    from dashboard_demo import SEGMENT

    cache = QueryCache()
    everyone = pages.segments_page(demo, parcours.Filter(), shared=cache.get)
    data = pages.data_page(demo, parcours.Filter(), shared=cache.get)
    misses = cache.misses
    segment = pages.segments_page(demo, parcours.Filter(segment=SEGMENT), shared=cache.get)
    later = pages.data_page(demo, parcours.Filter(start="2099-01-01"), shared=cache.get)
    assert (cache.misses, cache.hits) == (misses, 2)
    assert segment["cards"] == everyone["cards"]
    assert 0 < sum(segment["charts"]["sizes"]["data"][0]["y"]) < sum(everyone["charts"]["sizes"]["data"][0]["y"])
    assert later["stats"] == data["stats"] and later["charts"]["volume"]["data"] == []
