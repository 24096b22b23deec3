"""The stored step sequences (``derived.steps_<level>``): the same rows and the same path figures
as the live window functions, read only for filters that keep whole customers, rebuilt after
every data change."""

from __future__ import annotations

import contextlib
import random

import pandas as pd
import pytest
from conftest import load_events

import parcours
from parcours.analytics.paths.paths import dfg, flows, loops, top_paths, transition_matrix
from parcours.analytics.paths.sequences import BY_LEVELS, FLAGS, STEPS, step_rows, steps_query
from parcours.analytics.segments.segments import create_segment
from parcours.errors import ParcoursError
from parcours.journey.materialized import built_stamp, is_fresh, stamp
from parcours.query import sql
from parcours.query.filter import Filter

#: raw events of the five-stages journey, plus one no touchpoint maps and one ignored event
NAMES = ["ad_click", "search_click", "site_visit", "product_view", "chat_message", "add_to_cart",
         "checkout_start", "purchase", "delivery", "support_call", "not_on_the_map", "identify"]


def random_events(seed: int, customers: int = 60) -> list[dict]:
    """Journeys with many ties on the timestamp (so the name/message-id tie-breaks matter), loops,
    A -> B -> A, anonymous visitors who log in later (stitching) and an event name with a quote."""
    rng = random.Random(seed)
    events = []
    for c in range(customers):
        for i in range(rng.randint(1, 12)):
            who = {"user_id": f"c{c}"} if i or rng.random() < 0.7 else {"anonymous_id": f"anon{c}"}
            if i == 1 and "anonymous_id" in events[-1]:
                who["anonymous_id"] = f"anon{c}"  # the login that links the anonymous visit
            name = rng.choice(NAMES + ["it's odd"]) if rng.random() < 0.1 else rng.choice(NAMES[:8])
            minute = rng.randint(0, 9)  # ten distinct times for up to twelve events: ties
            events.append({**who, "event": name, "timestamp": f"2024-03-{1 + c % 20:02d}T10:{minute:02d}:00Z",
                           "properties": {"n": i}})
    events.append({"user_id": "c0", "event": "it's odd", "timestamp": "2024-03-01T10:05:00Z"})
    return events


class _Undo(Exception):
    """Rolls back ``live``'s transaction."""


def live(store, fn):
    """``fn``'s result from the live window functions: in a transaction that drops the step tables
    (so they can be neither read nor rebuilt) and is then rolled back, which brings them back."""
    result = []
    with contextlib.suppress(_Undo), store.transaction(changes_data=False):
        for relation in STEPS.values():
            store.con.execute(f"DROP TABLE IF EXISTS {relation.table}")
        assert not any(step_rows(store, by).stored for by in BY_LEVELS)
        result.append(fn())
        raise _Undo
    return result[0]


def same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def sequence(store, by: str, filter: Filter | None = None) -> pd.DataFrame:
    return store.engine.df(sql("SELECT * FROM {steps} ORDER BY customer_id, seq", steps=steps_query(store, by, filter)))


@pytest.fixture(params=[1])
def shop(request, store, tmp_path):
    load_events(store, random_events(request.param), tmp_path)
    create_segment(store, "buyers", "purchases >= 1")
    return store


@pytest.mark.parametrize("by", BY_LEVELS)
def test_the_stored_sequence_has_the_live_rows_columns_and_types(shop, by):
    expected = live(shop, lambda: sequence(shop, by))
    assert step_rows(shop, by).stored
    got = sequence(shop, by)
    assert is_fresh(shop, STEPS[by])
    assert len(got) > 100 and got["prev_step"].isna().any() and got["prev2_step"].notna().any()
    same(got, expected)
    buyers = Filter(segment="buyers")
    expected = live(shop, lambda: sequence(shop, by, buyers))
    assert step_rows(shop, by, buyers).stored
    got = sequence(shop, by, buyers)
    assert 0 < got["customer_id"].nunique() < sequence(shop, by)["customer_id"].nunique()
    same(got, expected)


ANALYSES = {
    "dfg": lambda s, by, f: dfg(s, by, filter=f),
    "transition_matrix": lambda s, by, f: transition_matrix(s, by, filter=f),
    "loops": lambda s, by, f: loops(s, by, filter=f),
    "flows": lambda s, by, f: flows(s, None, 4, by, filter=f),
    "flows_from": lambda s, by, f: flows(s, "site_visit", 3, by, filter=f),
    "top_paths": lambda s, by, f: top_paths(s, max_length=3, top=3, by=by, filter=f),
    "top_paths_to": lambda s, by, f: top_paths(s, end="purchase", max_length=2, by=by, filter=f),
    "top_paths_between": lambda s, by, f: top_paths(s, "site_visit", "add_to_cart", 3, by=by, filter=f),
}


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_path_analyses_agree_with_the_live_sequence(shop, name):
    fn = ANALYSES[name]
    for by in BY_LEVELS:
        for filter in (None, Filter(segment="buyers")):
            expected = live(shop, lambda by=by, filter=filter: fn(shop, by, filter))
            assert not expected.empty, (name, by, filter)
            assert step_rows(shop, by, filter).stored  # built by the first call, kept by the rollback
            same(fn(shop, by, filter), expected)


def test_loops_and_customers_count_the_same_on_a_hand_made_journey(store, tmp_path):
    # x: a a b a b (one a -> a, one a -> b -> a, one b -> a -> b); y: a b a (one a -> b -> a)
    minutes = {"x": ["site_visit", "site_visit", "add_to_cart", "site_visit", "add_to_cart"],
               "y": ["site_visit", "add_to_cart", "site_visit"]}
    load_events(store, [{"user_id": c, "event": e, "timestamp": f"2024-03-01T10:0{i}:00Z"}
                        for c, names in minutes.items() for i, e in enumerate(names)], tmp_path)
    got = loops(store, by="event").set_index("step")
    assert step_rows(store, "event").stored
    assert got.loc["site_visit", ["customers", "loops", "loop_customers", "back_and_forth",
                                  "back_and_forth_customers"]].tolist() == [2, 1, 1, 2, 2]
    assert got.loc["add_to_cart", ["back_and_forth", "back_and_forth_customers"]].tolist() == [1, 1]
    edges = dfg(store, by="event").set_index(["source", "target"])
    assert edges.loc[("site_visit", "add_to_cart"), ["count", "customers"]].tolist() == [3, 2]
    same(got.reset_index(), live(store, lambda: loops(store, by="event")))


@pytest.mark.parametrize("filter", [
    Filter(start="2024-03-05T00:00:00Z"),
    Filter(end="2024-03-10T00:00:00Z", segment="buyers"),
    Filter(where=[{"field": "event", "op": "ne", "value": "site_visit"}]),
], ids=["start", "end_and_segment", "where"])
def test_filters_that_change_the_sequence_fall_back_to_the_live_windows(shop, filter):
    rows = step_rows(shop, "touchpoint", filter)
    assert not rows.stored and "derived.steps_" not in rows.query.sql(dialect="duckdb")
    for name in ("dfg", "flows", "loops"):
        got = ANALYSES[name](shop, "touchpoint", filter)
        assert not got.empty
        same(got, live(shop, lambda name=name: ANALYSES[name](shop, "touchpoint", filter)))
    # a date range is not a segment: the first events in range start new sequences
    whole = sequence(shop, "touchpoint")
    narrowed = sequence(shop, "touchpoint", filter)
    assert len(narrowed) < len(whole) and (narrowed.groupby("customer_id")["seq"].min() == 1).all()


def test_the_table_is_sorted_coded_and_flags_one_row_per_customer_and_key(shop):
    dfg(shop)  # builds it
    table = STEPS["touchpoint"].table
    rows = shop.con.execute(f"SELECT customer_id, seq FROM {table}").fetchall()
    assert rows == sorted(rows)
    types = dict(shop.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall())
    assert all(types[c].startswith("ENUM(") for c in ("step", "prev_step", "prev2_step"))
    df = shop.engine.df(f"SELECT * REPLACE (CAST(step AS VARCHAR) AS step, CAST(prev_step AS VARCHAR) AS prev_step, "
                        f"CAST(prev2_step AS VARCHAR) AS prev2_step) FROM {table}")
    assert set(FLAGS) <= set(df.columns)
    per_edge = df.dropna(subset=["prev_step"]).groupby(["customer_id", "prev_step", "step"])["first_edge"].sum()
    assert (per_edge == 1).all()
    assert (df.groupby(["customer_id", "step"])["first_step"].sum() == 1).all()
    back = df[(df.prev2_step == df.step) & (df.prev_step != df.step)]
    assert len(back) and (back.groupby(["customer_id", "step"])["first_back"].sum() == 1).all()


def test_event_names_with_quotes_survive_the_enum(shop):
    e = dfg(shop, by="event")
    assert "it's odd" in set(e["source"]) | set(e["target"])
    same(e, live(shop, lambda: dfg(shop, by="event")))


@pytest.mark.parametrize("change", ["import", "stitch", "unmerge"])
def test_a_data_change_rebuilds_the_sequence(store, tmp_path, change):
    ev = [{"user_id": "ann", "event": "site_visit", "timestamp": "2024-03-01T10:00:00Z",
           "properties": {"email": "ann@example.com"}},
          {"user_id": "ann", "event": "add_to_cart", "timestamp": "2024-03-01T10:05:00Z"},
          {"user_id": "bob", "event": "product_view", "timestamp": "2024-03-01T09:00:00Z"},
          {"user_id": "bob", "event": "purchase", "timestamp": "2024-03-01T11:00:00Z"}]
    load_events(store, ev, tmp_path)
    before = dfg(store)
    table = STEPS["touchpoint"]
    assert built_stamp(store, table) == stamp(store)
    if change == "import":
        load_events(store, [{"user_id": "ann", "event": "purchase", "timestamp": "2024-03-01T10:06:00Z"}],
                    tmp_path, name="more.jsonl")
    else:
        # bob shares ann's email: one customer after stitching (bob's events interleave with ann's)
        load_events(store, [{"user_id": "bob", "event": "chat_message", "timestamp": "2024-03-01T10:01:00Z",
                             "properties": {"email": "ann@example.com"}}], tmp_path, name="more.jsonl", stitch=False)
        dfg(store)
        parcours.stitch(store)
        if change == "unmerge":
            dfg(store)
            parcours.unmerge(store, int(parcours.merges(store)["merge_id"].iloc[-1]))
    before_refresh = built_stamp(store, table)
    assert before_refresh is not None and before_refresh != stamp(store)  # kept, stale: caught up below
    after = dfg(store)
    assert built_stamp(store, table) == stamp(store)
    same(after, live(store, lambda: dfg(store)))
    edges = set(zip(after.source, after.target, strict=True))
    if change == "import":
        assert ("cart", "purchase") in edges and not after.equals(before)
    elif change == "stitch":
        assert ("product_page", "web_page") in edges  # bob's 09:00 view, then ann's 10:00 visit
    else:
        assert ("product_page", "web_page") not in edges and ("live_chat", "purchase") in edges


def test_read_only_and_other_engines(shop):
    dfg(shop)
    shop.engine_name = "spark"  # only the SQL text is asked for: the engine is not started
    assert not step_rows(shop).stored
    shop.engine_name = "duckdb"
    path = shop.path
    shop.close()
    with parcours.open(path, read_only=True) as ro:
        assert step_rows(ro, "touchpoint").stored  # built before: fresh, read
        assert not step_rows(ro, "stage").stored  # never built, and a read-only store cannot build it
        assert built_stamp(ro, STEPS["stage"]) is None


def test_an_empty_store_and_a_bad_level(store):
    assert dfg(store).empty and flows(store).empty and loops(store).empty
    assert step_rows(store).stored
    with pytest.raises(ParcoursError, match="unknown step level"):
        step_rows(store, "page")


def test_cli_refresh_builds_the_touchpoint_sequence_for_read_only_analyses(shop, capsys):
    from clirun import run

    path = shop.path
    expected = dfg(shop)
    with shop.transaction():  # a data-changing write (empty here): the derived tables are dropped
        pass
    shop.close()
    with parcours.open(path, read_only=True) as ro:
        assert not step_rows(ro).stored
    assert "rebuilt" in run(capsys, "--db", path, "journey", "refresh").out
    with parcours.open(path, read_only=True) as ro:
        assert step_rows(ro).stored
        same(dfg(ro), expected)
