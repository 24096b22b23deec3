"""Segments: the rule language, saved segments, and segments as filter and breakdown."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import load_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from parcours.analytics.filters import events_sql
from parcours.analytics.segments.rules import RuleError, compile_rule
from parcours.analytics.segments.segments import (
    by_segment,
    create_segment,
    delete_segment,
    edit_segment,
    list_segments,
    rule_members_query,
    save_list_segment,
    segment_members,
)
from parcours.analytics.stages.overview import stage_overview
from parcours.cli.main import app
from parcours.config import default_config
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter

# ann: came by ad, bought twice (revenue 30 + 70), promoter, plan pro
# bob: came by search, two carts in the last days, no purchase, detractor
# cid: came by email long ago, only visited the site
EVENTS = [
    {"user_id": "ann", "event": "ad_click", "timestamp": "2024-01-01T10:00:00Z", "utm_campaign": "winter"},
    {"user_id": "ann", "event": "identify", "type": "identify", "timestamp": "2024-01-01T10:01:00Z",
     "properties": {"plan": "pro"}},
    {"user_id": "ann", "event": "add_to_cart", "timestamp": "2024-01-02T10:00:00Z"},
    {"user_id": "ann", "event": "purchase", "timestamp": "2024-01-02T10:05:00Z", "properties": {"revenue": 30}},
    {"user_id": "ann", "event": "purchase", "timestamp": "2024-01-20T10:05:00Z",
     "properties": {"revenue": 70, "repeat": True}},
    {"user_id": "ann", "event": "survey_response", "timestamp": "2024-01-21T10:00:00Z",
     "properties": {"metric": "nps", "score": 10}},
    {"user_id": "bob", "event": "search_click", "timestamp": "2024-01-25T09:00:00Z", "utm_campaign": "brand"},
    {"user_id": "bob", "event": "add_to_cart", "timestamp": "2024-01-29T09:00:00Z"},
    {"user_id": "bob", "event": "add_to_cart", "timestamp": "2024-01-30T09:00:00Z"},
    {"user_id": "bob", "event": "survey_response", "timestamp": "2024-01-30T10:00:00Z",
     "properties": {"metric": "nps", "score": 3}},
    {"user_id": "cid", "event": "email_open", "timestamp": "2023-11-01T09:00:00Z"},
    {"user_id": "cid", "event": "site_visit", "timestamp": "2023-11-01T09:05:00Z"},
    {"user_id": "cid", "event": "identify", "type": "identify", "timestamp": "2023-11-01T09:06:00Z",
     "properties": {"plan": "free"}},
]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    return store


def members(store, rule: str) -> list[str]:
    return sorted(store.engine.df(rule_members_query(store, rule))["customer_id"])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("channel = 'ads'", ["ann"]),
        ("channel IN ('search', 'email')", ["bob", "cid"]),
        ("campaign = 'winter'", ["ann"]),
        ("campaign IS NULL", ["cid"]),
        ("stage >= 'decision'", ["ann", "bob"]),
        ("stage = 'consideration'", ["cid"]),
        ("current_stage = 'retention'", ["ann"]),  # the repeat purchase maps to retention
        ("nps = 'detractor'", ["bob"]),
        ("nps = 'promoter' OR nps = 'passive'", ["ann"]),
        ("NOT nps = 'promoter'", ["bob", "cid"]),  # no answer counts as "not promoter"
        ("value >= 100", ["ann"]),
        ("value BETWEEN 1 AND 50", []),
        ("purchases = 0", ["bob", "cid"]),
        ("events('add_to_cart', 7) >= 2", ["bob"]),
        ("events('add_to_cart') >= 1", ["ann", "bob"]),
        ("touchpoints('cart', 7) >= 1 AND touchpoints('cart') < 2", []),
        ("touchpoints('web_page') >= 1", ["cid"]),
        ("recency_days > 60", ["cid"]),
        ("traits.plan = 'pro'", ["ann"]),
        ("traits.plan IN ('pro', 'free') AND NOT (channel = 'ads')", ["cid"]),
        ("satisfaction < 5", ["bob"]),
        ("lead_score >= 50", []),  # nobody scored yet
    ],
)
def test_rule_membership(shop, rule, expected):
    assert members(shop, rule) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty"),
        ("stage >= 'checkout'", "unknown stage 'checkout'"),
        ("colour = 'red'", "unknown name 'colour'"),
        ("nps = 'happy'", "nps is one of"),
        ("value > 'lots'", "takes a number"),
        ("touchpoints('nowhere') > 1", "unknown touchpoint 'nowhere'"),
        ("events('x', 'week') > 1", "whole number"),
        ("events('x', 0) > 1", "at least 1"),
        ("'ads' = channel", "name on the left"),
        ("channel = 'ads'; DROP TABLE events", "expected a comparison"),
        ("channel = 'ads' UNION SELECT customer_id FROM identity_map", "expected a comparison"),
        ("channel IN (SELECT 1)", "IN takes a list"),
        ("lower(channel) = 'ads'", "expected a name"),
        ("channel = (", "cannot parse"),
        ("stage", "expected a comparison"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rule, message):
    with pytest.raises(RuleError, match=message):
        compile_rule(rule, default_config())


def test_a_quote_in_a_value_stays_a_value(shop):
    assert members(shop, "campaign = 'it''s'") == []
    assert shop.engine.scalar("SELECT count(*) FROM events") == len(EVENTS)


def test_saved_segments_lifecycle(shop):
    create_segment(shop, "buyers", "purchases >= 1", "bought at least once")
    create_segment(shop, "carts", "events('add_to_cart') >= 1")
    listed = list_segments(shop)
    assert listed[["name", "members"]].to_dict("records") == [
        {"name": "buyers", "members": 1}, {"name": "carts", "members": 2},
    ]
    with pytest.raises(ParcoursError, match="already exists"):
        create_segment(shop, "buyers", "purchases >= 2")
    with pytest.raises(RuleError):
        create_segment(shop, "broken", "purchases >= 'x'")
    with pytest.raises(ParcoursError, match="segment name"):
        create_segment(shop, "two words", "purchases >= 1")
    seg = edit_segment(shop, "buyers", where="purchases >= 0")
    assert seg.description == "bought at least once"
    assert list(segment_members(shop, "buyers")["customer_id"]) == ["ann", "bob", "cid"]
    delete_segment(shop, "buyers")
    with pytest.raises(ParcoursError, match="no such segment"):
        segment_members(shop, "buyers")
    assert list(list_segments(shop)["name"]) == ["carts"]


def test_list_segment_keeps_its_members(shop):
    save_list_segment(shop, "vip", sql("SELECT 'ann' AS customer_id UNION ALL SELECT 'cid'"), "hand-picked")
    assert list(segment_members(shop, "vip")["customer_id"]) == ["ann", "cid"]
    with pytest.raises(ParcoursError, match="no rule to edit"):
        edit_segment(shop, "vip", where="value > 1")


def test_filter_by_segment_narrows_every_event_query(shop):
    create_segment(shop, "searchers", "channel = 'search'")
    df = shop.engine.df(events_sql(shop, Filter(segment="searchers")))
    assert set(df["customer_id"]) == {"bob"} and len(df) == 4
    overview = stage_overview(shop, filter=Filter(segment="searchers"))
    assert overview.set_index("stage").loc["decision", "reached"] == 1
    with pytest.raises(ParcoursError, match="no such segment"):
        events_sql(shop, Filter(segment="nobody"))


def test_breakdown_by_segment(shop):
    create_segment(shop, "buyers", "purchases >= 1")
    create_segment(shop, "browsers", "purchases = 0")
    df = by_segment(shop, stage_overview, ["buyers", "browsers"], include_all=True)
    reached = df[df["stage"] == "awareness"].set_index("segment")["reached"].to_dict()
    assert reached == {"all": 3, "buyers": 1, "browsers": 2}
    with pytest.raises(ParcoursError, match="no such segment"):
        by_segment(shop, stage_overview, ["ghosts"])


def test_segment_cli(shop, tmp_path):
    db = shop.path
    shop.close()
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["--db", db, *args])

    r = run("segment", "create", "carts", "--where", "events('add_to_cart', 30) >= 1", "--description", "carted")
    assert r.exit_code == 0, r.output
    r = run("segment", "list", "--format", "json")
    assert [(s["name"], s["members"]) for s in json.loads(r.stdout)] == [("carts", 2)]
    r = run("segment", "members", "carts", "--format", "json")
    assert [m["customer_id"] for m in json.loads(r.stdout)] == ["ann", "bob"]
    r = run("segment", "edit", "carts", "--where", "events('add_to_cart', 7) >= 1")
    assert r.exit_code == 0, r.output
    r = run("summary", "--segment", "carts", "--format", "csv")
    assert r.exit_code == 0, r.output
    stages = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["stage"]: row["reached"] for row in stages}["awareness"] == "1"
    r = run("segment", "create", "bad", "--where", "stage >= 'nowhere'")
    assert r.exit_code != 0 and "unknown stage" in str(r.exception)
    r = run("segment", "delete", "carts")
    assert r.exit_code == 0
    r = run("segment", "list", "--format", "json")
    assert json.loads(r.stdout) == []


def test_segment_option_on_analysis_commands(shop):
    """--segment narrows the commands built on the shared options (one mechanism for all)."""
    create_segment(shop, "searchers", "channel = 'search'")
    db = shop.path
    shop.close()
    runner = CliRunner()
    r = runner.invoke(app, ["--db", db, "attribution", "--model", "last_touch", "--format", "json",
                            "--segment", "searchers"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {row["channel"] for row in rows} >= {"search"}
    assert sum(row["conversions"] for row in rows) == 0  # bob never bought: nothing to attribute
    r = runner.invoke(app, ["--db", db, "attribution", "--model", "last_touch", "--format", "json"])
    assert r.exit_code == 0 and sum(row["conversions"] for row in json.loads(r.stdout)) > 0  # ann's purchases
    r = runner.invoke(app, ["--db", db, "stages", "--format", "json", "--segment", "nobody"])
    assert r.exit_code != 0 and "no such segment" in str(r.exception)


RULE_WORDS = ["channel", "stage", "value", "nps", "traits.plan", "events('add_to_cart', 7)", "touchpoints('cart')",
              "'ads'", "'decision'", "'promoter'", "3", "-2", "1e999", "=", ">=", "<>", "IN", "(", ")", ",", "AND",
              "OR", "NOT", "BETWEEN", "IS", "NULL", ";", "'", "SELECT", "DROP", "lower", "*", "--"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(RULE_WORDS), min_size=1, max_size=8), noise=st.text(max_size=3))
def test_any_text_is_a_valid_rule_or_a_rule_error(shop, words, noise):
    """Whatever is typed, the answer is a RuleError or SQL that runs and changes nothing."""
    text = " ".join(words) + noise
    try:
        query = rule_members_query(shop, text)
    except RuleError:
        return
    shop.engine.df(query)
    assert shop.engine.scalar("SELECT count(*) FROM events") == len(EVENTS)
