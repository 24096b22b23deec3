"""Funnel modes on small histories a reader can check by hand, the options beyond the peers,
bad input, and the Taobao ordered funnel of SOURCE.md."""

from __future__ import annotations

import pytest
from conftest import load_events, shared_path

import parcours
from parcours.analytics.funnels.funnel import (
    conversion_trends,
    dropped_customers,
    funnel,
    funnel_customers,
    time_to_convert,
)
from parcours.durations import duration_seconds
from parcours.errors import ParcoursError
from parcours.query.filter import Filter


def ev(user: str, event: str, minute: float, **props) -> dict:
    seconds = int(minute * 60)
    return {"user_id": user, "event": event, "properties": props,
            "timestamp": f"2024-03-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"}


def levels(store, steps, **kw) -> dict:
    df = funnel_customers(store, steps, **kw)
    return dict(zip(df["customer"], df["level"], strict=True))


@pytest.fixture
def shop(store, tmp_path):
    """ann: view, cart, buy. bob: view, cart. cy: view, other, cart (strict breaks). dan: cart, view."""
    load_events(store, [
        ev("ann", "view", 0, channel_name="ads"), ev("ann", "cart", 5), ev("ann", "buy", 20),
        ev("bob", "view", 0, channel_name="mail"), ev("bob", "cart", 50),
        ev("cy", "view", 0, channel_name="ads"), ev("cy", "help", 1), ev("cy", "cart", 2), ev("cy", "buy", 3),
        ev("dan", "cart", 0), ev("dan", "view", 1),
    ], tmp_path)
    return store


def test_ordered_counts_conversion_and_times(shop):
    df = funnel(shop, ["view", "cart", "buy"], window="1h")
    assert list(df["step"]) == [1, 2, 3]
    assert list(df["name"]) == ["view", "cart", "buy"]
    assert list(df["customers"]) == [4, 3, 2]
    assert list(df["drop_off"]) == [0, 1, 1]
    assert df["conversion_from_first"].iloc[2] == pytest.approx(0.5)
    assert df["conversion_from_previous"].iloc[1] == pytest.approx(0.75)
    # view -> cart: ann 300 s, bob 3000 s, cy 120 s
    assert df["median_seconds_from_previous"].iloc[1] == pytest.approx(300)
    assert df["avg_seconds_from_previous"].iloc[1] == pytest.approx((300 + 3000 + 120) / 3)
    assert df["p90_seconds_from_previous"].iloc[1] == pytest.approx(300 + 0.8 * 2700)


def test_window_cuts_late_steps(shop):
    assert levels(shop, ["view", "cart"], window="30m") == {"ann": 2, "bob": 1, "cy": 2, "dan": 1}


def test_strict_breaks_on_any_other_event(shop):
    assert levels(shop, ["view", "cart", "buy"], window="1h", mode="strict")["cy"] == 1
    assert levels(shop, ["view", "cart", "buy"], window="1h", mode="ordered")["cy"] == 3


def test_unordered_counts_distinct_steps_in_any_order(shop):
    got = levels(shop, ["view", "cart"], window="1h", mode="unordered")
    assert got["dan"] == 2  # cart then view
    assert levels(shop, ["view", "cart"], window="1h")["dan"] == 1


def test_clickhouse_lets_one_event_fill_several_steps(store, tmp_path):
    load_events(store, [ev("u", "a", 0)], tmp_path)
    assert levels(store, ["a", "a"], window="1h", semantics="clickhouse") == {"u": 2}
    assert levels(store, ["a", "a"], window="1h", semantics="posthog") == {"u": 1}
    assert levels(store, ["a", "a"], window="1h", semantics="clickhouse", mode="strict_increase") == {"u": 1}


def test_clickhouse_strict_order_stops_at_an_unrelated_row(shop):
    got = levels(shop, ["view", "cart", "buy"], window="1h", semantics="clickhouse", mode="strict_order")
    assert got["cy"] == 1 and got["ann"] == 3


def test_exclusion_removes_the_customer(store, tmp_path):
    load_events(store, [ev("u", "view", 0), ev("u", "refund", 1), ev("u", "buy", 2), ev("v", "view", 0), ev("v", "buy", 2)],
                tmp_path)
    excl = [{"event": "refund", "funnel_from_step": 0, "funnel_to_step": 1}]
    df = funnel(store, ["view", "buy"], window="1h", exclusions=excl)
    assert list(df["customers"]) == [1, 1]
    assert funnel_customers(store, ["view", "buy"], window="1h", exclusions=excl).set_index("customer")["excluded"]["u"]


def test_a_deeper_tainted_path_drops_the_customer_despite_a_clean_shallower_one(store, tmp_path):
    """PostHog funnel-udf (steps.rs): a path tainted by an exclusion cannot take its next step, but
    doing that step still makes it the deepest path, and a deepest tainted path drops the subject.
    u's path from t=0 is clean (the exclusion at 11 s is past its 10 s window) and stays at step
    1; the path from 12 s is tainted at 13 s and then does step 2 at 14 s: u is dropped. v does
    the same without the step-2 event, so its deepest path is the clean one and v counts."""
    def at(user: str, event: str, second: int) -> dict:
        return {"user_id": user, "event": event, "timestamp": f"2021-05-01T00:00:{second:02d}Z"}

    events = [at("u", "one", 0), at("u", "x", 11), at("u", "one", 12), at("u", "x", 13), at("u", "two", 14),
              at("v", "one", 0), at("v", "x", 11), at("v", "one", 12), at("v", "x", 13)]
    load_events(store, events, tmp_path)
    excl = [{"event": "x", "funnel_from_step": 0, "funnel_to_step": 1}]
    got = funnel_customers(store, ["one", "two"], window="10s", exclusions=excl).set_index("customer")
    assert bool(got.loc["u", "excluded"]) and not bool(got.loc["v", "excluded"])
    assert got.loc["v", "level"] == 1
    assert list(funnel(store, ["one", "two"], window="10s", exclusions=excl)["customers"]) == [1, 0]


def test_optional_step_may_be_skipped(shop):
    got = levels(shop, ["view", "help", "cart"], window="1h", optional=[2])
    assert got == {"ann": 3, "bob": 3, "cy": 3, "dan": 1}
    df = funnel(shop, ["view", "help", "cart"], window="1h", optional=[2])
    assert list(df["customers"]) == [4, 1, 3]


def test_max_and_min_gap_per_step(shop):
    assert levels(shop, ["view", "cart"], window="1d", max_gap_seconds={2: 600})["bob"] == 1
    assert levels(shop, ["view", "cart"], window="1d", min_gap_seconds={2: 200}) == {"ann": 2, "bob": 2, "cy": 1, "dan": 1}


def test_repeat_conversions_are_counted(store, tmp_path):
    load_events(store, [ev("u", "a", 0), ev("u", "b", 1), ev("u", "a", 2), ev("u", "b", 3), ev("u", "a", 4)], tmp_path)
    once = funnel_customers(store, ["a", "b"], window="1h")
    every = funnel_customers(store, ["a", "b"], window="1h", repeat=True)
    assert list(once["conversions"]) == [1] and list(every["conversions"]) == [2]


def test_breakdown_first_and_last_touch(store, tmp_path):
    load_events(store, [ev("u", "a", 0, src="x"), ev("u", "b", 1, src="y"), ev("v", "a", 0, src="y")], tmp_path)
    first = funnel(store, ["a", "b"], window="1h", breakdown="src")
    assert first.set_index(["breakdown", "step"])["customers"].to_dict() == {("x", 1): 1, ("x", 2): 1, ("y", 1): 1, ("y", 2): 0}
    last = funnel(store, ["a", "b"], window="1h", breakdown={"property": "src", "attribution": "last_touch"})
    assert last.set_index(["breakdown", "step"])["customers"].to_dict() == {("y", 1): 2, ("y", 2): 1}
    step = funnel(store, ["a", "b"], window="1h", breakdown={"property": "src", "attribution": "step", "step": 1})
    rows = [(r.breakdown, r.step, r.customers) for r in step.itertuples()]
    assert rows == [("y", 1, 1), ("y", 2, 1), (None, 1, 1), (None, 2, 0)]  # v never filled step 1


def test_aggregate_by_session_property(store, tmp_path):
    load_events(store, [ev("u", "a", 0, session_id="s1"), ev("u", "b", 1, session_id="s2"), ev("u", "a", 2, session_id="s2")],
                tmp_path)
    assert levels(store, ["a", "b"], window="1h", aggregate_by="session") == {"s1": 1, "s2": 1}
    assert levels(store, ["a", "b"], window="1h") == {"u": 2}


def test_touchpoint_and_stage_steps_and_date_filter(shop):
    df = funnel(shop, ["view", "cart"], window="1h", filter=Filter(end="2024-03-01T00:04:00"))
    assert list(df["customers"]) == [4, 1]  # only cy's cart (2 min) is before 00:04 and after a view
    # the journey map maps none of the shop's events: stage steps cannot count anyone
    with pytest.raises(ParcoursError, match="maps none of the events to a stage.*--by event.*journey set"):
        funnel(shop, ["stage:decision", "stage:retention"], window="1h")


def test_touchpoint_and_stage_steps(store, tmp_path):
    load_events(store, [ev("u", "site_visit", 0), ev("u", "add_to_cart", 1), ev("u", "purchase", 2)], tmp_path)
    tp = {t.name for t in store.config.touchpoints}
    cart = next(t.name for t in store.config.touchpoints if "cart" in t.name)
    assert cart in tp
    df = funnel(store, [f"touchpoint:{cart}", "stage:decision"], window="1h")
    assert df["name"].tolist() == [f"touchpoint:{cart}", "stage:decision"]
    assert df["customers"].tolist() == [1, 1]
    with pytest.raises(ParcoursError, match="step 2: unknown touchpoint 'teleport'"):
        funnel(store, ["site_visit", "touchpoint:teleport"], window="1h")
    with pytest.raises(ParcoursError, match="step 1: unknown stage 'nirvana'"):
        funnel(store, ["stage:nirvana"], window="1h")


def test_dropped_customers_and_time_to_convert(shop):
    dropped = dropped_customers(shop, ["view", "cart", "buy"], step=3, window="1h")
    assert list(dropped["customer"]) == ["bob"]
    hist = time_to_convert(shop, ["view", "cart", "buy"], window="1h")
    assert hist.attrs["average_conversion_time"] == pytest.approx((1200 + 180) / 2)
    assert int(hist["customers"].sum()) == 2


def test_trends_by_day(shop):
    df = conversion_trends(shop, ["view", "cart"], window="1h", interval="day")
    assert df.to_dict("records")[0]["reached_from_step_count"] == 4
    assert df.to_dict("records")[0]["conversion_rate"] == 75.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "sideways"}, "unknown under posthog"),
    ({"semantics": "clickhouse", "mode": "strict_order+warp"}, "unknown under clickhouse"),
    ({"semantics": "clickhouse", "mode": "allow_reentry"}, "needs strict_order"),
    ({"window": "7 parsecs"}, "not a duration"),
    ({"window": "0s"}, "longer than zero"),
    ({"exclusions": [{"event": "x", "funnel_from_step": 1, "funnel_to_step": 1}]}, "0 <= from < to"),
    ({"mode": "unordered", "exclusions": [{"event": "x", "funnel_from_step": 0, "funnel_to_step": 1}]}, "whole funnel"),
    ({"semantics": "clickhouse", "exclusions": [{"event": "x"}]}, "posthog-semantics option"),
    ({"optional": [1]}, "steps 2..3"),
    ({"aggregate_by": "planet"}, "aggregate_by 'planet'"),
])
def test_bad_funnel_definitions_say_what_is_wrong(store, kwargs, message):
    with pytest.raises(ParcoursError, match=message):
        funnel(store, ["a", "b", "c"], **{"window": "1d", **kwargs})


def test_bad_steps(store):
    with pytest.raises(ParcoursError, match="at least one step"):
        funnel(store, [], window="1d")
    with pytest.raises(ParcoursError, match="step 2"):
        funnel(store, ["a", {"event": "b", "colour": "red"}], window="1d")


def test_durations():
    assert duration_seconds("3600s") == duration_seconds("60m") == duration_seconds("1h") == 3600
    assert duration_seconds("7d") == 7 * 86400 and duration_seconds("2w") == 14 * 86400
    # one rule everywhere: a bare number is seconds, as text or as a number
    assert duration_seconds("90") == duration_seconds(90) == 90
    with pytest.raises(ParcoursError, match="window 'soon': not a duration"):
        duration_seconds("soon", "window")


def test_attribution_lookback_reads_a_bare_number_as_seconds_like_the_funnel_window(store):
    """Attribution's lookback once read a bare number as days, the funnel window as seconds."""
    from parcours.analytics.attribution.paths import conversion_paths_query

    assert conversion_paths_query(store, lookback="90") == conversion_paths_query(store, lookback="90s")
    assert conversion_paths_query(store, lookback="90") != conversion_paths_query(store, lookback="90d")


def test_taobao_ordered_funnel_matches_source_md(store):
    """SOURCE.md: first pv, then a cart at or after it, then a buy at or after that: 812 / 595 / 389.

    That is an ordered funnel with no time limit: any window longer than the data's span
    (84 days; 100d here) reproduces it under both semantics (9d already does on this data)."""
    path = shared_path("data/taobao_userbehavior_prefix/UserBehavior_prefix.csv")
    parcours.import_file(store, path, header=False, timestamp_format="unix",
                         columns=["user_id", "item_id", "category_id", "behavior_type", "timestamp"],
                         mapping=parcours.Mapping.parse(["event=behavior_type"]))
    for semantics in ("posthog", "clickhouse"):
        df = funnel(store, ["pv", "cart", "buy"], window="100d", semantics=semantics)
        assert list(df["customers"]) == [812, 595, 389], semantics
    assert list(funnel(store, ["pv", "cart", "buy"], window="1d")["customers"]) == [812, 589, 279]


def test_trends_apply_exclusions(store, tmp_path):
    """As PostHog: an entry whose path meets an exclusion between its steps counts nowhere."""
    load_events(store, [
        ev("ann", "view", 0), ev("ann", "help", 2), ev("ann", "cart", 5),  # excluded on day 1
        ev("bob", "view", 0), ev("bob", "cart", 5),
        ev("cy", "view", 0), ev("cy", "cart", 5), ev("cy", "help", 9),  # help after the path is done
        ev("dan", "view", 0), ev("dan", "help", 70),  # help after the window: not excluded
    ], tmp_path)
    excl = [{"event": "help", "funnel_from_step": 0, "funnel_to_step": 1}]
    plain = conversion_trends(store, ["view", "cart"], window="1h", interval="day").iloc[0]
    assert (plain["reached_from_step_count"], plain["reached_to_step_count"]) == (4, 3)
    row = conversion_trends(store, ["view", "cart"], window="1h", interval="day", exclusions=excl).iloc[0]
    assert (row["reached_from_step_count"], row["reached_to_step_count"]) == (3, 2)
    assert row["conversion_rate"] == pytest.approx(66.67)
    # the trends agree with the funnel itself on who is left
    steps = funnel(store, ["view", "cart"], window="1h", exclusions=excl)
    assert list(steps["customers"]) == [3, 2]


def test_trends_exclusion_on_a_later_step_range(store, tmp_path):
    """An exclusion over steps 2..3 does not touch a path still before step 2."""
    load_events(store, [
        ev("ann", "view", 0), ev("ann", "help", 1), ev("ann", "cart", 2), ev("ann", "buy", 3),
        ev("bob", "view", 0), ev("bob", "cart", 1), ev("bob", "help", 2), ev("bob", "buy", 3),
    ], tmp_path)
    excl = [{"event": "help", "funnel_from_step": 1, "funnel_to_step": 2}]
    row = conversion_trends(store, ["view", "cart", "buy"], window="1h", interval="day", exclusions=excl).iloc[0]
    assert (row["reached_from_step_count"], row["reached_to_step_count"]) == (1, 1)


def test_segment_filter_and_by_segment(shop):
    from parcours.analytics.segments.segments import by_segment, create_segment

    create_segment(shop, "buyers", "events('buy') >= 1")  # ann and cy
    df = funnel(shop, ["view", "cart", "buy"], window="1h", filter=Filter(segment="buyers"))
    assert list(df["customers"]) == [2, 2, 2]
    assert set(funnel_customers(shop, ["view", "cart"], window="1h", filter=Filter(segment="buyers"))["customer"]) \
        == {"ann", "cy"}
    both = by_segment(shop, funnel, ["buyers"], include_all=True, steps=["view", "cart", "buy"], window="1h")
    assert list(both["segment"]) == ["all"] * 3 + ["buyers"] * 3
    assert list(both["customers"]) == [4, 3, 2, 2, 2, 2]
    trends = by_segment(shop, conversion_trends, ["buyers"], steps=["view", "cart"], window="1h")
    assert trends["reached_from_step_count"].tolist() == [2]
    with pytest.raises(ParcoursError, match="nobody"):
        funnel(shop, ["view"], window="1h", filter=Filter(segment="nobody"))
