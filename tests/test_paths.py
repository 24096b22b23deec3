"""Paths, flows, transitions and loops on journeys a reader can follow by hand, and pm4py's DFG."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from conftest import load_events
from typer.testing import CliRunner

import parcours
from parcours.analytics.paths.paths import dfg, flows, loops, top_paths, transition_matrix
from parcours.cli.main import app
from parcours.errors import ParcoursError
from parcours.query.filter import Filter

# customer -> its events (one per minute); names are raw events of the five-stages journey
JOURNEYS = {
    "a": ["ad_click", "site_visit", "product_view", "add_to_cart", "purchase"],
    "b": ["ad_click", "site_visit", "chat_message", "site_visit", "add_to_cart"],
    "c": ["search_click", "site_visit", "site_visit", "product_view"],
    "d": ["site_visit", "add_to_cart", "purchase"],
}


def _events(journeys: dict[str, list[str]]) -> list[dict]:
    return [
        {"user_id": cid, "event": name, "timestamp": f"2024-03-01T10:{i:02d}:00Z"}
        for cid, names in journeys.items() for i, name in enumerate(names)
    ]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, _events(JOURNEYS), tmp_path)
    return store


def _edges(df: pd.DataFrame) -> dict[tuple[str, str], int]:
    return {(r.source, r.target): r.count for r in df.itertuples()}


def test_dfg_counts_probabilities_and_times(shop):
    d = dfg(shop)
    e = _edges(d)
    assert e[("web_page", "cart")] == 2  # b, d
    assert e[("display_ad", "web_page")] == 2
    assert e[("web_page", "web_page")] == 1  # c
    assert e[("cart", "purchase")] == 2
    assert sum(e.values()) == sum(len(v) - 1 for v in JOURNEYS.values())
    assert d.groupby("source")["probability"].sum().round(9).eq(1).all()
    assert (d["median_seconds"] == 60).all()
    row = d[(d.source == "web_page") & (d.target == "product_page")].iloc[0]
    assert row["count"] == 2 and row["probability"] == pytest.approx(2 / 6)


def test_dfg_by_event_and_by_stage(shop):
    assert _edges(dfg(shop, by="event"))[("product_view", "add_to_cart")] == 1
    stages = _edges(dfg(shop, by="stage"))
    assert stages[("consideration", "decision")] == 3
    assert stages[("decision", "decision")] == 2
    with pytest.raises(ParcoursError, match="unknown step level"):
        dfg(shop, by="page")


def test_transition_matrix_rows_sum_to_one(shop):
    m = transition_matrix(shop).set_index("source")
    assert m.sum(axis=1).round(9).eq(1).all()
    assert m.loc["live_chat", "web_page"] == 1.0


def test_loops_and_back_and_forth(shop):
    lp = loops(shop).set_index("step")
    assert lp.loc["web_page", "loops"] == 1 and lp.loc["web_page", "loop_customers"] == 1
    assert lp.loc["web_page", "back_and_forth"] == 1  # b: web_page > live_chat > web_page
    assert lp.loc["cart", "loops"] == 0 and lp.loc["cart", "back_and_forth"] == 0


def test_flows_add_up_at_every_position(shop):
    f = flows(shop, max_steps=4)
    per_position = f.groupby("position")["customers"].sum()
    assert per_position[1] == 4
    # customers at position p+1 = those that did not end at p
    for p in range(1, 4):
        ended = f[(f.position == p) & (f.target == "(end)")]["customers"].sum()
        assert per_position[p + 1] == per_position[p] - ended
    from_cart = flows(shop, start="touchpoint:cart", max_steps=2)
    assert from_cart[from_cart.position == 1].set_index("target")["customers"].to_dict() == {
        "purchase": 2, "(end)": 1
    }


def test_top_paths_from_to_between_and_other_bucket(shop):
    frm = top_paths(shop, start="touchpoint:web_page", max_length=2)
    assert frm.set_index("path")["customers"].to_dict() == {
        "web_page > product_page > ...": 1, "web_page > live_chat > ...": 1,
        "web_page > web_page > ...": 1, "web_page > cart > ...": 1,
    }
    to = top_paths(shop, end="purchase", max_length=3).set_index("path")["customers"].to_dict()
    assert to == {"... > product_page > cart > purchase": 1, "web_page > cart > purchase": 1}
    between = top_paths(shop, start="touchpoint:display_ad", end="touchpoint:cart", max_length=3)
    assert between.to_dict("records") == [
        {"rank": 1, "path": "display_ad > web_page > ... > cart", "length": 4, "customers": 2, "share": 1.0}
    ]
    missed = top_paths(shop, start="touchpoint:web_page", end="touchpoint:purchase", max_length=5)
    assert missed.set_index("path").loc["(did not reach touchpoint:purchase)", "customers"] == 2
    assert missed["customers"].sum() == 4

    top1 = top_paths(shop, max_length=1, top=1)
    assert list(top1["path"]) == ["display_ad > ...", "(other)"]
    assert top1["customers"].sum() == 4 and top1["share"].sum() == pytest.approx(1)
    opened = top_paths(shop, max_length=1, top=1, open_other=True)
    assert opened["customers"].sum() == top1.iloc[-1]["customers"] == 2


def test_between_respects_window(store, tmp_path):
    load_events(store, [
        {"user_id": "x", "event": "ad_click", "timestamp": "2024-03-01T10:00:00Z"},
        {"user_id": "x", "event": "purchase", "timestamp": "2024-03-05T10:00:00Z"},
    ], tmp_path)
    within = top_paths(store, start="ad_click", end="purchase", within=timedelta(days=1))
    assert list(within["path"]) == ["(did not reach purchase)"]
    assert list(top_paths(store, start="ad_click", end="purchase")["path"]) == ["display_ad > purchase"]


def test_bad_arguments_say_what(shop):
    with pytest.raises(ParcoursError, match="max_length=0"):
        top_paths(shop, max_length=0)
    with pytest.raises(ParcoursError, match="top=0"):
        top_paths(shop, top=0)
    with pytest.raises(ParcoursError, match="`start`"):
        top_paths(shop, start={"field": "nope"})


def test_cli_dfg_json_is_stable(shop):
    shop.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", shop.path, "paths", "--dfg", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {"source", "target", "count"} <= set(rows[0])
    reopened = parcours.open(shop.path)
    expected = _edges(dfg(reopened))
    reopened.close()  # the CLI below opens it read-only: DuckDB refuses mixed configurations
    assert {(r["source"], r["target"]): r["count"] for r in rows} == expected
    res = runner.invoke(app, ["--db", shop.path, "paths", "--from-step", "touchpoint:cart", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert sum(r["customers"] for r in json.loads(res.stdout)) == 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from parcours.demo import load_demo

    store = parcours.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store, customers=1500, seed=3)
    yield store
    store.close()


@pytest.mark.parametrize(("first", "second"), [
    ("touchpoint:web_page", "touchpoint:checkout"),
    ("touchpoint:product_page", "touchpoint:cart"),
    ("stage:awareness", "purchase"),
])
def test_flows_between_two_steps_agree_with_the_funnel(demo, first, second):
    """Customers on a path from A to B = the funnel's step 2; all customers with an A = its step 1.

    Paths start at each customer's first A and end at the first B after it; an ordered funnel
    counts a customer who has some A followed by some B. Without a time limit the two are the
    same customers, so the counts must agree exactly (a year-long window is longer than the data).
    """
    from parcours.analytics.funnels.funnel import funnel

    paths = top_paths(demo, first, second, max_length=4, top=5)
    missed = paths["path"].str.startswith("(did not reach")
    f = funnel(demo, [first, second], window=400 * 86400).set_index("step")["customers"]
    assert f[2] > 0 and f[2] < f[1]
    assert int(paths.loc[~missed, "customers"].sum()) == f[2]
    assert int(paths["customers"].sum()) == f[1]
    # the same holds inside a date range: both read the same filtered journey relation
    filter = Filter(start="2024-04-01T00:00:00Z", end="2024-10-01T00:00:00Z")
    paths = top_paths(demo, first, second, max_length=4, top=5, filter=filter)
    missed = paths["path"].str.startswith("(did not reach")
    f = funnel(demo, [first, second], window=400 * 86400, filter=filter).set_index("step")["customers"]
    assert int(paths.loc[~missed, "customers"].sum()) == f[2]
    assert int(paths["customers"].sum()) == f[1]


def test_cli_shared_segment_and_date_options(shop):
    from parcours.analytics.segments.segments import create_segment

    create_segment(shop, "buyers", "purchases >= 1")
    shop.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", shop.path, "paths", "--dfg", "--segment", "buyers", "--format", "json"])
    assert res.exit_code == 0, res.output
    edges = {(r["source"], r["target"]): r["count"] for r in json.loads(res.stdout)}
    assert edges[("cart", "purchase")] == 2 and ("live_chat", "web_page") not in edges  # b bought nothing
    res = runner.invoke(app, ["--db", shop.path, "paths", "--dfg", "--to", "2024-03-01T10:02:00", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert sum(r["count"] for r in json.loads(res.stdout)) == 4 * 1  # the first two events of each customer
    res = runner.invoke(app, ["--db", shop.path, "paths", "--since", "2024-03-01", "--from", "2024-03-01"])
    assert isinstance(res.exception, ParcoursError) and "mean the same" in str(res.exception)
    for command in ("retention", "friction"):
        res = runner.invoke(app, ["--db", shop.path, command, "--segment", "buyers", "--format", "json"])
        assert res.exit_code == 0, (command, res.output)


# -- options: collapse repeats, split a step by a field, paths before a step --------------------

def test_collapse_repeats_shows_a_run_once_with_its_count(shop):
    # c: search_click > site_visit > site_visit > product_view = organic_search > web_page > web_page > product_page
    plain = top_paths(shop, start="touchpoint:organic_search", top=5)
    assert plain["path"].tolist() == ["organic_search > web_page > web_page > product_page"]
    collapsed = top_paths(shop, start="touchpoint:organic_search", top=5, collapse_repeats=True)
    assert collapsed["path"].tolist() == ["organic_search > web_page ×2 > product_page"]
    assert collapsed["length"].tolist() == [3]  # a run counts as one step
    # b goes web_page > live_chat > web_page: not a repeat, nothing collapses
    b = top_paths(shop, start="touchpoint:live_chat", top=5, collapse_repeats=True)
    assert b["path"].tolist() == ["live_chat > web_page > cart"]
    # defaults unchanged: without the option, the same table as before
    assert top_paths(shop, top=10).equals(top_paths(shop, top=10, collapse_repeats=False))


def test_collapse_repeats_in_flows_keeps_every_customer(shop):
    f = flows(shop, max_steps=6, collapse_repeats=True)
    assert ("web_page ×2", "product_page") in set(zip(f["source"], f["target"], strict=True))
    first = f[f["position"] == 1]["customers"].sum()
    assert first == 4
    plain = flows(shop, max_steps=6)
    assert ("web_page", "web_page") in set(zip(plain["source"], plain["target"], strict=True))


@pytest.fixture
def devices(store, tmp_path):
    events = [{"user_id": cid, "event": name, "timestamp": f"2024-03-01T10:{i:02d}:00Z",
               "properties": {"device": device}}
              for cid, device in (("m1", "mobile"), ("m2", "mobile"), ("w1", "web"))
              for i, name in enumerate(["ad_click", "site_visit", "add_to_cart", "purchase"])]
    events.append({"user_id": "n1", "event": "site_visit", "timestamp": "2024-03-01T10:00:00Z"})
    load_events(store, events, tmp_path)
    return store


def test_split_a_step_by_an_event_property(devices):
    df = top_paths(devices, start="touchpoint:cart", top=5, split_by="props.device", split_step="touchpoint:cart")
    assert dict(zip(df["path"], df["customers"], strict=True)) == {
        "cart (mobile) > purchase": 2, "cart (web) > purchase": 1}
    every = top_paths(devices, start="touchpoint:web_page", top=5, split_by="props.device")
    # a step without the property shows "none" rather than vanishing
    assert dict(zip(every["path"], every["customers"], strict=True))["web_page (none)"] == 1
    f = flows(devices, start="touchpoint:cart", max_steps=2, split_by="props.device", split_step="touchpoint:cart")
    assert set(zip(f["source"], f["customers"], strict=True)) >= {("cart (mobile)", 2), ("cart (web)", 1)}


def test_split_by_an_unknown_or_person_field_is_an_error(devices):
    with pytest.raises(ParcoursError, match="did you mean device"):
        top_paths(devices, split_by="props.devise")
    with pytest.raises(ParcoursError, match="event field"):
        top_paths(devices, split_by="person.plan")
    with pytest.raises(ParcoursError, match="unknown field"):
        top_paths(devices, split_by="colour")


def test_paths_before_a_step_end_there(shop):
    # the steps before each customer's first cart: a, b and d reach the cart
    df = top_paths(shop, end="touchpoint:cart", max_length=3, top=10)
    assert dict(zip(df["path"], df["customers"], strict=True)) == {
        "... > web_page > product_page > cart": 1, "... > live_chat > web_page > cart": 1, "web_page > cart": 1}
    assert all(p.endswith("cart") for p in df["path"])


def test_customers_behind_a_path_and_a_sankey_link(shop):
    from parcours.analytics.paths.paths import customer_paths, flow_customers

    top = top_paths(shop, start="touchpoint:web_page", top=10)
    for r in top.itertuples():
        ids = customer_paths(shop, start="touchpoint:web_page", path=r.path)
        assert len(ids) == r.customers
    f = flows(shop, max_steps=3)
    for r in f.itertuples():
        ids = flow_customers(shop, r.position, r.source, r.target, max_steps=3)
        assert len(ids) == r.customers
    assert flow_customers(shop, 1, "display_ad", "web_page", max_steps=3)["customer_id"].tolist() == ["a", "b"]
    # from a step, and with runs collapsed: links and ends are found from the rows that look back
    for options in ({"start": "touchpoint:web_page"}, {"collapse_repeats": True}):
        f = flows(shop, max_steps=3, **options)
        assert (f.target == "(end)").any() and (f.target != "(end)").any()
        for r in f.itertuples():
            assert len(flow_customers(shop, r.position, r.source, r.target, max_steps=3, **options)) == r.customers


def test_cli_collapse_repeats_and_split_by(devices):
    devices.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", devices.path, "paths", "--from-step", "touchpoint:cart", "--split-by",
                              "props.device", "--split-step", "touchpoint:cart", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert {r["path"]: r["customers"] for r in json.loads(res.stdout)} == {
        "cart (mobile) > purchase": 2, "cart (web) > purchase": 1}
    res = runner.invoke(app, ["--db", devices.path, "paths", "--flows", "--collapse-repeats", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert sum(r["customers"] for r in json.loads(res.stdout) if r["position"] == 1) == 4


def test_cli_path_options_explain_a_mistake(devices, capsys):
    from clirun import run

    devices.close()
    res = run(capsys, "--db", devices.path, "paths", "--dfg", "--collapse-repeats")
    assert res.code == 2 and "top paths and --flows only" in res.err
    res = run(capsys, "--db", devices.path, "paths", "--split-step", "touchpoint:cart")
    assert res.code == 2 and "--split-step needs --split-by" in res.err
    res = run(capsys, "--db", devices.path, "paths", "--split-by", "props.devise")
    assert res.code == 2 and "--split-by" in res.err and "did you mean device" in res.err
