"""A name the store has never seen is an error naming the closest known ones (issue 15), not zeros."""

from __future__ import annotations

import pytest
from clirun import run
from conftest import load_events

import parcours
from parcours.analytics.names import UnknownName, closest
from parcours.analytics.paths.paths import top_paths
from parcours.analytics.retention.retention import retention

EVENTS = [
    {"user_id": u, "event": e, "timestamp": f"2024-01-0{d}T00:00:00Z", "properties": {"plan": "pro"}}
    for u in ("a", "b") for d, e in enumerate(["site_visit", "add_to_cart", "purchase"], start=1)
]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    return store


def test_closest_is_difflib_over_known_names():
    assert closest("purchse", ["purchase", "site_visit", "add_to_cart"]) == ["purchase"]


def test_funnel_step(shop):
    with pytest.raises(UnknownName, match=r"step 3: unknown event 'purchse'; did you mean purchase\?"):
        parcours.funnel(shop, ["site_visit", "add_to_cart", "purchse"])


def test_path_anchor_retention_event_breakdown_segment(shop):
    # the library names the parameter (the CLI says the flag, --from-step: see test_cli_one_line_exit_2)
    with pytest.raises(UnknownName, match="`start`: unknown event 'site_vist'; did you mean site_visit"):
        top_paths(shop, start="site_vist", by="event")
    with pytest.raises(UnknownName, match="`return_event`: unknown event 'purchas'; did you mean purchase"):
        retention(shop, "site_visit", "purchas")
    with pytest.raises(UnknownName, match="breakdown: unknown property 'plann'; did you mean plan"):
        parcours.funnel(shop, ["site_visit", "purchase"], breakdown={"property": "plann"})
    with pytest.raises(UnknownName, match="segment 'vip': no such segment"):
        parcours.funnel(shop, ["site_visit", "purchase"], filter=parcours.Filter(segment="vip"))


def test_cli_one_line_exit_2(shop, tmp_path, capsys):
    db = shop.path if hasattr(shop, "path") else tmp_path / "test.duckdb"
    shop.close()
    r = run(capsys, "--db", db, "funnel", "site_visit", "add_to_cart", "purchse")
    assert r.code == 2 and r.err.count("\n") == 1 and "did you mean purchase?" in r.err
    r = run(capsys, "--db", db, "paths", "--by", "event", "--from-step", "site_vist")
    assert r.code == 2 and r.err.count("\n") == 1 and "--from-step: unknown event 'site_vist'" in r.err, r.err
    r = run(capsys, "--db", db, "retention", "--cohort-event", "site_visit", "--return-event", "purchas")
    assert r.code == 2 and "--return-event: unknown event 'purchas'; did you mean purchase?" in r.err, r.err
