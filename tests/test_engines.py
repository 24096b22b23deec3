"""The analytics give identical results on DuckDB and on Spark (local mode) over the same data.

One Spark session serves the whole test session; the data is small (a seeded demo of a
hundred customers, and every funnel peer case in one store) so that the Spark part stays
within minutes on two cores. Each analysis runs on a DuckDB store and on the same file
opened with ``engine="spark"``; the two frames must be equal row for row (same order),
up to the integer widths each engine picks.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import run
from conftest import SHARED, load_events, shared_path

import parcours
from parcours.analytics.funnels.funnel import conversion_trends
from parcours.analytics.paths.paths import flow_customers
from parcours.analytics.retention.retention import retained_customers
from parcours.analytics.segments.segments import create_segment, segment_members
from parcours.analytics.stages.touchpoint_outcomes import touchpoint_outcomes
from parcours.engine.spark import SparkEngine, spark_session

CUSTOMERS = 100
SEED = 11


@pytest.fixture(scope="session")
def spark():
    """One Spark session for the whole test session (start-up costs seconds)."""
    return spark_session()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, spark):
    """The same demo store opened twice: (duckdb, spark)."""
    path = tmp_path_factory.mktemp("engines") / "demo.duckdb"
    with parcours.open(path) as s:
        parcours.load_demo(s, customers=CUSTOMERS, seed=SEED)
        create_segment(s, "buyers", "purchases >= 1")
    duck, sp = parcours.open(path), parcours.open(path, engine="spark")
    assert isinstance(sp.engine, SparkEngine)
    yield duck, sp
    sp.close()
    duck.close()


def assert_same(a, b) -> None:
    """Equal results: frames row for row (integer widths aside), arrays and dataclasses field by field."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b)
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name))
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    elif isinstance(a, pd.DataFrame):
        assert list(a.columns) == list(b.columns)
        assert len(a) == len(b)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                      check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-12)
        assert a.attrs == b.attrs
    else:
        assert a == b


ANALYSES: dict[str, Callable] = {
    "stage_overview": parcours.stage_overview,
    "top_touchpoints": parcours.top_touchpoints,
    "store_stats": parcours.store_stats,
    "unmapped_events": parcours.unmapped_events,
    "funnel_posthog": lambda s: parcours.funnel(s, ["stage:awareness", "stage:consideration", "stage:decision"]),
    "funnel_clickhouse": lambda s: parcours.funnel(
        s, ["site_visit", "add_to_cart", "purchase"], semantics="clickhouse", window_seconds=7 * 86400),
    "abandonment": parcours.abandonment,
    "abandonment_destinations": parcours.abandonment_destinations,
    "dfg": parcours.dfg,
    "transition_matrix": parcours.transition_matrix,
    "top_paths": parcours.top_paths,
    "flows": parcours.flows,
    "loops": parcours.loops,
    "stage_progression": parcours.stage_progression,
    "stage_returns": parcours.stage_returns,
    "touchpoint_outcomes": touchpoint_outcomes,
    "retention": parcours.retention,
    "retention_curve": parcours.retention_curve,
    "repeat_purchase_rate": parcours.repeat_purchase_rate,
    "churn_risk": parcours.churn_risk,
    "friction": parcours.friction,
    "attribution": parcours.attribution,
    "conversion_paths": parcours.conversion_paths,
    "voc_scores": parcours.voc_scores,
    "voc_trend": parcours.voc_trend,
    "survey_answers": parcours.survey_answers,
    "emotion_curve": parcours.emotion_curve,
    "compare_touchpoints": parcours.compare_touchpoints,
    "satisfaction_behaviour": parcours.satisfaction_behaviour,
    "detractor_touchpoints": parcours.detractor_touchpoints,
    "segment_members": lambda s: segment_members(s, "buyers"),
    "conformance": lambda s: parcours.conformance(s),
    "conformance_deviations": lambda s: parcours.conformance_overview(s)["deviations"],
    "opportunities": lambda s: parcours.opportunities(s),
    "segment_filter": lambda s: parcours.stage_overview(s, filter=parcours.Filter(segment="buyers")),
    "top_paths_collapsed_split": lambda s: parcours.top_paths(s, collapse_repeats=True, split_by="channel", top=20),
    "flows_collapsed_split": lambda s: parcours.flows(s, collapse_repeats=True, split_by="channel",
                                                      split_step="touchpoint:web_page"),
    "flow_customers": lambda s: flow_customers(s, 1, "display_ad", "web_page"),
    "retained_customers": lambda s: retained_customers(s, parcours.retention(s)["cohort"].iloc[0], 1),
}


#: nothing to report on a hundred demo customers: the comparison still checks columns and types
MAY_BE_EMPTY = {"unmapped_events", "friction", "detractor_touchpoints"}


@pytest.mark.parametrize("name", list(ANALYSES))
def test_analysis_is_identical_on_both_engines(demo, name):
    duck, sp = demo
    expected = ANALYSES[name](duck)
    if isinstance(expected, pd.DataFrame) and name not in MAY_BE_EMPTY:
        assert len(expected), f"{name}: the demo gives an empty result, so the comparison would prove nothing"
    assert_same(expected, ANALYSES[name](sp))


# -- funnel peer cases: all of them in one store, each case's users kept apart -----------

FILES = {"clickhouse": "cases/funnels/clickhouse_window_funnel.json", "posthog": "cases/funnels/posthog_funnels.json"}


#: Cases of the same form kept beside the tests (see test_funnel_cases.py).
LOCAL = [("posthog", Path(__file__).parent / "cases/funnels/posthog_exclusions.json")]


def _peer_cases() -> list[tuple[str, dict]]:
    files = [(sem, shared_path(rel)) for sem, rel in FILES.items()] + LOCAL
    return [(sem, c) for sem, path in files for c in json.loads(path.read_text())["cases"]]


@pytest.fixture(scope="module")
def peer_store(tmp_path_factory, spark):
    """Every peer case's events in one store; users are ``<case>/<user>`` so cases never share a person."""
    tmp = tmp_path_factory.mktemp("peers")
    events = [{"user_id": f"{c['name']}/{e['user']}", "event": e["event"], "timestamp": e["ts"],
               "properties": e.get("props") or {}} for _, c in _peer_cases() for e in c["events"]]
    with parcours.open(tmp / "peers.duckdb") as s:
        assert load_events(s, events, tmp).loaded == len(events)
    duck, sp = parcours.open(tmp / "peers.duckdb"), parcours.open(tmp / "peers.duckdb", engine="spark")
    yield duck, sp
    sp.close()
    duck.close()


def _spec(case: dict, semantics: str) -> dict:
    spec = {k: case[k] for k in ("steps", "window_seconds", "mode", "exclusions", "aggregate_by", "breakdown")
            if k in case}
    spec["semantics"] = semantics
    if spec.get("aggregate_by") == "user":
        spec["aggregate_by"] = "customer"
    return spec


def test_every_funnel_peer_case_is_identical_on_both_engines(peer_store):
    """Per-subject levels, exclusions and step times of every case (both semantics) agree."""
    duck, sp = peer_store
    assert (SHARED / FILES["posthog"]).exists()
    compared = 0
    for semantics, case in _peer_cases():
        spec = _spec(case, semantics)
        prefix = case["name"] + "/"

        def own(df: pd.DataFrame, prefix=prefix) -> pd.DataFrame:
            mine = df[df["customer"].astype(str).str.startswith(prefix)]
            return mine.sort_values(list(mine.columns[:1])).reset_index(drop=True)

        expected = own(parcours.funnel_customers(duck, spec=spec))
        got = own(parcours.funnel_customers(sp, spec=spec))
        assert_same(expected, got)
        compared += len(expected)
        if case.get("viz") == "trends":  # entries per period, exclusions included
            assert_same(conversion_trends(duck, spec=spec, interval=case["interval"]),
                        conversion_trends(sp, spec=spec, interval=case["interval"]))
    assert compared > 100


def test_breakdown_funnel_is_identical_on_both_engines(peer_store):
    """A breakdown funnel (first-touch values come from an aggregate query) over all peer events."""
    duck, sp = peer_store
    spec = {"steps": ["user signed up", "paid"], "breakdown": {"property": "$browser"}, "window_seconds": 14 * 86400}
    assert_same(parcours.funnel(duck, spec=spec), parcours.funnel(sp, spec=spec))


# -- the CLI: `parcours --db PATH --engine spark COMMAND` prints what duckdb prints ------

#: friction is left out: it flags nothing on a hundred demo customers (its frames are compared above)
CLI_COMMANDS = [
    ["summary"],
    ["stages"],
    ["paths"],
    ["funnel", "stage:awareness", "stage:consideration", "stage:decision"],
    ["retention"],
    ["attribution"],
    ["abandonment"],
    ["voc", "scores"],
]


@pytest.fixture(scope="module")
def cli_db(demo, tmp_path_factory) -> str:
    """A copy of the demo store that no open connection holds (the CLI opens it read-only)."""
    duck, _ = demo
    duck.con.execute("CHECKPOINT")
    path = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    shutil.copy(duck.path, path)
    return str(path)


@pytest.mark.parametrize("command", CLI_COMMANDS, ids=lambda c: c[0])
def test_cli_engine_spark_prints_the_same_json(cli_db, capsys, command):
    db = cli_db
    on_duck = run(capsys, "--db", db, "--engine", "duckdb", *command, "--format", "json")
    on_spark = run(capsys, "--db", db, "--engine", "spark", *command, "--format", "json")
    assert on_duck.code == 0, on_duck.err
    assert on_spark.code == 0, on_spark.err
    assert on_duck.json(), "empty output proves nothing"
    # same rows, keys and order; sums of floats may differ in the last bits (Spark adds in parallel)
    assert _rounded(on_spark.json()) == _rounded(on_duck.json())


def _rounded(value):
    """JSON output with floats to 9 significant digits, for comparing sums made in another order."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def test_unknown_engine_is_a_one_line_error(demo, cli_db, capsys, monkeypatch):
    duck, _ = demo
    bad = run(capsys, "--db", cli_db, "--engine", "presto", "stages")
    assert bad.code == 2
    assert "--engine 'presto': unknown engine; choose one of duckdb, spark" in bad.err
    monkeypatch.setenv("PARCOURS_ENGINE", "hive")
    bad = run(capsys, "--db", cli_db, "stages")
    assert bad.code == 2 and "$PARCOURS_ENGINE 'hive'" in bad.err
    with pytest.raises(parcours.ParcoursError, match="engine 'presto': unknown"):
        _ = parcours.open(duck.path, engine="presto").engine


def test_engine_from_environment(demo, monkeypatch):
    duck, _ = demo
    monkeypatch.setenv("PARCOURS_ENGINE", "spark")
    with parcours.open(duck.path) as s:
        assert s.engine.name == "spark"
        assert s.engine.scalar("SELECT count(*) FROM events") == duck.engine.scalar("SELECT count(*) FROM events")


# -- identity stitching: the connected components computed by Spark ---------------------

def _identity_events(batch: int) -> list[dict]:
    """Chains of anonymous visits joined by identify events and shared e-mail traits."""
    events = []
    for i in range(12):
        anon, user = f"anon{batch}-{i}", f"user{i % 8}"
        events.append({"anonymous_id": anon, "event": "site_visit", "timestamp": f"2024-03-0{batch}T10:{i:02d}:00Z"})
        if i % 3:
            events.append({"anonymous_id": anon, "user_id": user, "type": "identify", "event": "identify",
                           "timestamp": f"2024-03-0{batch}T11:{i:02d}:00Z",
                           "properties": {"email": f"p{i % 5}@example.com"}})
    return events


def _stitched(store) -> tuple[list, list]:
    ids = store.con.execute("SELECT identifier, customer_id FROM identity_map ORDER BY 1").fetchall()
    log = store.con.execute("SELECT merge_id, action, customer_id, merged_ids, reason FROM merge_log ORDER BY 1").fetchall()
    return ids, log


def test_stitching_on_spark_gives_the_same_customers_and_merges(tmp_path, spark):
    stores = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        store = parcours.open(folder / "ids.duckdb", engine=engine)
        for batch in (1, 2):  # a second batch joins known customers: merges are logged
            load_events(store, _identity_events(batch), folder, name=f"b{batch}.jsonl", stitch=False)
            parcours.stitch(store)
        stores[engine] = store
    duck, sp = (_stitched(stores[e]) for e in ("duckdb", "spark"))
    assert len(duck[0]) > 20 and len({c for _, c in duck[0]}) < len(duck[0])  # some ids were joined
    assert duck == sp
    for s in stores.values():
        s.close()
