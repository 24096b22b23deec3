"""Spark computes the journey relation once per snapshot and journey map, and every query reads it.

The Spark engine replaces the live journey SQL in a query by a view over Parquet that Spark
wrote into the snapshot (``derived/journey-<hash>.parquet``). These tests pin when that file
is written (first query that reads the relation), when it is reused (every later query of
the same data and map) and when it is not (a changed map, new data), and that the results
stay DuckDB's.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import load_events

import parcours
from parcours.config.loader import template_text
from parcours.engine.spark import snapshot_root, spark_session

EVENTS = [
    {"user_id": u, "event": e, "timestamp": f"2024-03-0{d}T10:00:00Z", "properties": p}
    for u, e, d, p in [
        ("ann", "ad_click", 1, {}), ("ann", "site_visit", 2, {}), ("ann", "add_to_cart", 3, {"cart_value": 30}),
        ("ann", "purchase", 4, {"revenue": 30}), ("bob", "search_click", 1, {}), ("bob", "product_view", 2, {}),
        ("cat", "email_open", 3, {}), ("cat", "site_visit", 4, {}), ("cat", "purchase", 5, {"revenue": 12}),
    ]
]


@pytest.fixture(scope="module")
def spark():
    return spark_session()


def journey_files(store) -> list:
    return sorted(snapshot_root(store).glob("*/derived/journey-*.parquet"))


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_journey_is_written_on_first_use_and_reused(tmp_path, spark):
    path = tmp_path / "j.duckdb"
    with parcours.open(path) as s:
        load_events(s, EVENTS, tmp_path)
        expected = parcours.stage_overview(s), parcours.dfg(s)
    with parcours.open(path, read_only=True, engine="spark") as sp:
        assert sp.engine.scalar("SELECT count(*) FROM events") == len(EVENTS)
        assert journey_files(sp) == []  # a query of the base tables alone does not build it
        same(parcours.stage_overview(sp), expected[0])
        [file] = journey_files(sp)
        written = file.stat().st_mtime_ns
        same(parcours.dfg(sp), expected[1])
        funnel = parcours.funnel(sp, ["site_visit", "purchase"])  # map_groups reads it too
        assert list(funnel["customers"]) == [2, 2]
        assert journey_files(sp) == [file] and file.stat().st_mtime_ns == written


def test_a_changed_journey_map_gets_its_own_relation(tmp_path, spark):
    path = tmp_path / "j.duckdb"
    with parcours.open(path) as s:
        load_events(s, EVENTS, tmp_path)
    ecommerce = parcours.parse_config(template_text("ecommerce"), "ecommerce")
    with parcours.open(path, read_only=True) as duck, parcours.open(path, read_only=True, engine="spark") as sp:
        five = parcours.stage_overview(sp)
        same(five, parcours.stage_overview(duck))
        # another connection set the map, the data is unchanged: the same snapshot, another relation
        duck._config = sp._config = ecommerce
        other = parcours.stage_overview(sp)
        same(other, parcours.stage_overview(duck))
        assert list(other["stage"]) != list(five["stage"])
        assert len(journey_files(sp)) == 2


def test_new_data_reads_a_new_relation(tmp_path, spark):
    path = tmp_path / "j.duckdb"
    with parcours.open(path) as s:
        load_events(s, EVENTS[:4], tmp_path)
    with parcours.open(path, engine="spark") as sp:
        assert parcours.funnel(sp, ["site_visit", "purchase"])["customers"].tolist() == [1, 1]
        old = journey_files(sp)
        load_events(sp, EVENTS[4:], tmp_path, name="more.jsonl")
        assert parcours.funnel(sp, ["site_visit", "purchase"])["customers"].tolist() == [2, 2]
        new = journey_files(sp)
        assert len(new) == 1 and new != old  # the old snapshot went, with its relation
