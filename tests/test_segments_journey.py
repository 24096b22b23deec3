"""Segments, personas' features, RFM and lead snapshots read the journey through ``events_sql``:
the materialized table when it is fresh, the live relation otherwise, with the same answers."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from conftest import load_events

import parcours
from parcours.analytics.filters import events_sql
from parcours.analytics.segments.features import features_query
from parcours.analytics.segments.leads import snapshot_frame
from parcours.analytics.segments.members import customers_query, rule_members_query
from parcours.analytics.segments.personas import rfm_scores
from parcours.analytics.segments.rules import compile_rule
from parcours.journey.materialized import TABLE, built_stamp, journey_source
from parcours.query import sql
from parcours.query.filter import Filter


def ev(day: int, hour: int, user: str, event: str, **kw) -> dict:
    return {"user_id": user, "event": event, "timestamp": f"2024-03-{day:02d}T{hour:02d}:00:00Z", **kw}


# ann's first three touches happen at the same instant: which campaign and channel acquired her
# is decided by the order they were recorded in (the file's first row, m3), not by message_id
# (m1), whatever order the rows are stored or read in
EVENTS = [
    ev(1, 9, "ann", "social_click", message_id="m3", utm_campaign="later-id", channel="social"),
    ev(1, 9, "ann", "ad_click", message_id="m1", utm_campaign="first-id", channel="ads"),
    ev(1, 9, "ann", "social_click", message_id="m2", utm_campaign="later-id", channel="social"),
    ev(2, 9, "ann", "product_view"),
    ev(3, 9, "ann", "add_to_cart", properties={"cart_value": 40}),
    ev(3, 10, "ann", "purchase", properties={"revenue": 40.1}),
    ev(9, 10, "ann", "purchase", properties={"revenue": 0.2, "repeat": True}),
    ev(10, 9, "ann", "survey_response", properties={"metric": "nps", "score": 9}),
    ev(2, 8, "bob", "search_click", utm_campaign="brand"),
    ev(6, 8, "bob", "product_view"),
    ev(7, 8, "bob", "add_to_cart", properties={"cart_value": 15}),
    ev(8, 8, "bob", "purchase", properties={"revenue": 15}),
    ev(4, 12, "cid", "email_open", utm_campaign="news"),
    ev(5, 12, "cid", "site_visit"),
    ev(9, 12, "cid", "add_to_cart", properties={"cart_value": 99}),
    ev(10, 12, "cid", "survey_response", properties={"metric": "nps", "score": 2}),
]

RULE = "events('add_to_cart', 7) >= 1 AND channel != 'email' OR nps = 'detractor'"

QUERIES = {
    "customers": lambda s: s.engine.df(customers_query(s, compile_rule(RULE, s.config))).sort_values("customer_id"),
    "members": lambda s: s.engine.df(rule_members_query(s, RULE)).sort_values("customer_id"),
    "features": lambda s: s.engine.df(features_query(s, properties=["cart_value"])).sort_values("customer_id"),
    "rfm": rfm_scores,
    "snapshots": lambda s: snapshot_frame(s, [datetime(2024, 3, 3), datetime(2024, 3, 7)], horizon_days=3),
    "segment_filter": lambda s: s.engine.df(f"{events_sql(s, Filter(segment='carts'))} ORDER BY message_id"),
}


@pytest.fixture
def path(store, tmp_path) -> str:
    load_events(store, EVENTS, tmp_path)
    parcours.create_segment(store, "carts", RULE)
    store.con.execute(f"DROP TABLE IF EXISTS {TABLE}")  # no table yet: read-only stores read live
    store.close()
    return store.path


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_same_answers_from_the_table_and_the_live_relation(path, name):
    with parcours.open(path, read_only=True) as ro:
        assert journey_source(ro).sql() != TABLE
        live = QUERIES[name](ro)
    with parcours.open(path) as rw:
        from_table = QUERIES[name](rw)
        assert journey_source(rw).sql() == TABLE
    assert not live.empty
    pd.testing.assert_frame_equal(from_table.reset_index(drop=True), live.reset_index(drop=True))


def test_acquisition_ties_keep_the_recorded_order(path):
    with parcours.open(path) as s:
        row = s.engine.df(sql("SELECT * FROM {c} WHERE customer_id = 'ann'", c=customers_query(s))).iloc[0]
    assert (row["campaign"], row["channel"]) == ("later-id", "social")


def test_the_sql_reads_the_fresh_table(path):
    with parcours.open(path) as s:
        sqls = [customers_query(s).sql(dialect="duckdb"), features_query(s).sql(dialect="duckdb"), rule_members_query(s, RULE).sql(dialect="duckdb"),
                events_sql(s, Filter(segment="carts"))]
        assert all(TABLE in sql for sql in sqls)
        assert "identity_map" not in " ".join(sqls)  # nothing recomputes the relation


def test_membership_built_inside_a_transaction_reads_the_live_relation(path):
    with parcours.open(path) as s:
        expected = sorted(s.engine.df(rule_members_query(s, RULE))["customer_id"])
        s.con.execute(f"DROP TABLE {TABLE}")
        with s.transaction(changes_data=False):
            members = rule_members_query(s, RULE)
            assert TABLE not in members.sql(dialect="duckdb")  # a rebuild here would belong to the caller's transaction
            assert sorted(s.execute(members).df()["customer_id"]) == expected
        assert built_stamp(s) is None
