"""Stage progression on four journeys whose stays and returns can be checked by hand."""

from __future__ import annotations

import json
import math

import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.segments.segments import create_segment
from parcours.analytics.stages.overview import stage_overview
from parcours.analytics.stages.stages import stage_progression, stage_returns
from parcours.cli.main import app
from parcours.errors import ParcoursError
from parcours.query.filter import Filter

H = 3600
# customer -> (event, hours after 2024-03-01 08:00 UTC)
JOURNEYS = {
    # awareness 1 h, consideration 2 h, decision still open (1 h to the last event)
    "a": [("ad_click", 0), ("site_visit", 1), ("add_to_cart", 3), ("purchase", 4)],
    # back from consideration to awareness; consideration open for 4 h (2 h -> last event at 6 h)
    "b": [("ad_click", 0), ("site_visit", 2), ("ad_click", 5), ("site_visit", 6)],
    # one event: a stay of 0 s, still open
    "c": [("site_visit", 0)],
    # back from decision to consideration; decision lasts from 1 h to delivery at 10 h
    "d": [("site_visit", 0), ("add_to_cart", 1), ("site_visit", 2), ("purchase", 3), ("delivery", 10)],
}


def _events() -> list[dict]:
    return [
        {"user_id": cid, "event": name, "timestamp": f"2024-03-01T{8 + h:02d}:00:00Z"}
        for cid, steps in JOURNEYS.items() for name, h in steps
    ]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, _events(), tmp_path)
    return store


def test_current_furthest_reached_and_conversion(shop):
    p = stage_progression(shop).set_index("stage")
    assert list(p.index) == ["awareness", "consideration", "decision", "retention", "advocacy"]
    assert list(p["current"]) == [0, 2, 1, 1, 0]  # a decision, b c consideration, d retention
    assert list(p["furthest"]) == [0, 2, 1, 1, 0]
    assert list(p["reached"]) == [4, 4, 2, 1, 0]
    assert p["furthest"].sum() == 4  # every customer has exactly one furthest stage
    assert p.loc["decision", "conversion_from_previous"] == pytest.approx(0.5)
    assert list(p["entered"]) == [2, 4, 2, 1, 0]
    # the overview's counts are reused, not recomputed differently
    o = stage_overview(shop).set_index("stage")
    assert (p["reached"] == o["reached"]).all() and (p["current"] == o["current"]).all()


def test_time_in_stage_median_and_p90(shop):
    p = stage_progression(shop).set_index("stage")
    assert p.loc["awareness", "median_seconds"] == 1.5 * H  # a 1 h, b 2 h
    assert p.loc["awareness", "p90_seconds"] == pytest.approx(1.9 * H)
    assert p.loc["consideration", "median_seconds"] == 1.5 * H  # 0, 1, 2, 4 h
    assert p.loc["consideration", "p90_seconds"] == pytest.approx(3.4 * H)
    assert p.loc["decision", "median_seconds"] == 5 * H  # a 1 h (open), d 9 h
    assert p.loc["retention", "median_seconds"] == 0
    assert math.isnan(p.loc["advocacy", "median_seconds"])
    assert list(p["still_in"]) == [0, 2, 1, 1, 0]


def test_went_back_counts_and_examples(shop):
    p = stage_progression(shop).set_index("stage")
    assert list(p["went_back"]) == [0, 1, 1, 0, 0]
    r = stage_returns(shop)
    assert r.iloc[0].to_dict() == {"from_stage": "(any)", "to_stage": "(any)", "customers": 2, "share": 0.5,
                                   "examples": ["b", "d"]}
    pairs = {(x.from_stage, x.to_stage): (x.customers, x.share, x.examples) for x in r.iloc[1:].itertuples()}
    assert pairs == {("consideration", "awareness"): (1, 0.25, ["b"]), ("decision", "consideration"): (1, 0.5, ["d"])}
    assert stage_returns(shop, examples=0).iloc[0]["examples"] == []
    with pytest.raises(ParcoursError, match="`examples` -1"):
        stage_returns(shop, examples=-1)


def test_date_filter_and_segment_narrow_the_scope(shop):
    # up to 09:30: neither b (back at 13:00) nor d (back at 10:00) has gone back yet
    early = stage_progression(shop, filter=Filter(end="2024-03-01T09:30:00Z")).set_index("stage")
    assert list(early["went_back"]) == [0, 0, 0, 0, 0]
    assert early.loc["decision", "reached"] == 1  # d's add_to_cart at 9:00
    create_segment(shop, "buyers", "purchases >= 1")
    seg = stage_progression(shop, filter=Filter(segment="buyers")).set_index("stage")
    assert seg.loc["awareness", "reached"] == 2 and seg.loc["decision", "entered"] == 2


def test_empty_store_gives_zero_rows_per_stage(store):
    p = stage_progression(store)
    assert len(p) == 5 and p["reached"].sum() == 0 and p["went_back"].sum() == 0
    r = stage_returns(store)
    assert len(r) == 1 and r.iloc[0]["customers"] == 0 and r.iloc[0]["share"] == 0


def test_cli_stages_json_and_went_back(shop, tmp_path):
    db = str(shop.path)
    shop.close()
    runner = CliRunner()
    out = runner.invoke(app, ["--db", db, "stages", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["stage"] for r in rows][:2] == ["awareness", "consideration"] and rows[1]["current"] == 2
    out = runner.invoke(app, ["--db", db, "stages", "--went-back", "--to", "2024-03-01T12:00:00", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["customers"] == 1  # only d, back at 10:00
    out = runner.invoke(app, ["--db", db, "stages", "--segment", "nobody"])
    assert out.exit_code != 0
