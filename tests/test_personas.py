"""Personas (seeded, readable, saved as segments) and RFM scores."""

from __future__ import annotations

import json

import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.segments.personas import find_personas, rfm_scores, save_personas
from parcours.analytics.segments.segments import segment_members
from parcours.cli.main import app
from parcours.errors import ParcoursError


def _people() -> list[dict]:
    """Three behaviours, 12 customers each: email buyers, social browsers, store visitors who call support."""
    events = []
    for i in range(12):
        day = f"2024-02-{i + 1:02d}"
        b, s, v = f"buyer{i}", f"browser{i}", f"visitor{i}"
        events += [
            {"user_id": b, "event": "email_open", "timestamp": f"{day}T08:00:00Z"},
            {"user_id": b, "event": "add_to_cart", "timestamp": f"{day}T08:05:00Z"},
            {"user_id": b, "event": "purchase", "timestamp": f"{day}T08:10:00Z", "properties": {"revenue": 100 + i}},
            {"user_id": b, "event": "purchase", "timestamp": f"{day}T20:10:00Z", "properties": {"revenue": 50}},
            {"user_id": s, "event": "social_click", "timestamp": f"{day}T09:00:00Z"},
            {"user_id": s, "event": "social_click", "timestamp": f"{day}T12:00:00Z"},
            {"user_id": v, "event": "store_visit", "timestamp": f"{day}T10:00:00Z"},
            {"user_id": v, "event": "store_visit", "timestamp": "2024-03-01T10:00:00Z"},
            {"user_id": v, "event": "support_call", "timestamp": "2024-03-02T10:00:00Z"},
        ]
    return events


@pytest.fixture
def crowd(store, tmp_path):
    load_events(store, _people(), tmp_path)
    return store


def test_personas_separate_the_behaviours_and_are_reproducible(crowd):
    p = find_personas(crowd, seed=1)
    assert p.k == 3 and set(p.silhouette) == set(range(3, 9))
    groups = p.members.assign(kind=p.members["customer_id"].str.rstrip("0123456789")).groupby("persona")["kind"]
    assert sorted(groups.nunique()) == [1, 1, 1]  # every persona is one behaviour
    assert sorted(p.cards["size"]) == [12, 12, 12]
    buyers = p.cards[p.cards["conversion"] == 1.0].iloc[0]
    assert buyers["top_channels"] == ["web", "email"] and "purchases" in buyers["description"]  # cart + 2 purchases
    again = find_personas(crowd, seed=1)
    assert again.members.equals(p.members) and again.cards["description"].equals(p.cards["description"])


def test_fixed_k_and_saving_as_segments(crowd):
    p = find_personas(crowd, k=2, seed=0)
    assert p.k == 2 and len(p.cards) == 2
    names = save_personas(crowd, p)
    sizes = {n: len(segment_members(crowd, n)) for n in names}
    assert sizes == dict(zip(p.cards["persona"], p.cards["size"], strict=True))


def test_too_few_customers(store, tmp_path):
    load_events(store, _people()[:9], tmp_path)
    with pytest.raises(ParcoursError, match="need at least 10"):
        find_personas(store)


def test_rfm_by_hand(crowd):
    df = rfm_scores(crowd).set_index("customer_id")
    assert len(df) == 12  # buyers only
    assert df.loc["buyer11", "monetary"] == 161 and df.loc["buyer11", "frequency"] == 2
    assert df.loc["buyer11", "m"] == 5 and df.loc["buyer0", "m"] == 1
    assert df.loc["buyer11", "r"] == 5 and df.loc["buyer0", "r"] == 1  # bought last / first
    assert df.loc["buyer11", "rfm"].startswith("5")


def test_personas_cli_json(crowd):
    db = crowd.path
    crowd.close()
    r = CliRunner().invoke(app, ["--db", db, "personas", "--format", "json", "--seed", "1", "--save"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 3 and all({"persona", "size", "description"} <= set(row) for row in rows)
    r = CliRunner().invoke(app, ["--db", db, "segment", "list", "--format", "json"])
    assert sorted(s["name"] for s in json.loads(r.stdout)) == ["persona_1", "persona_2", "persona_3"]
    r = CliRunner().invoke(app, ["--db", db, "rfm", "--format", "json", "--limit", "3"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 3


def test_persona_names_say_what_sets_them_apart(crowd):
    p = find_personas(crowd, seed=1)
    kinds = p.members.assign(kind=p.members["customer_id"].str.rstrip("0123456789")).groupby("persona")["kind"].first()
    names = p.cards.assign(kind=p.cards["persona"].map(kinds)).set_index("kind")["name"]
    assert names["visitor"] == "Store shoppers who go through call_centre"
    assert names["browser"].startswith("Social followers")
    assert names.is_unique
    assert p.cards.set_index("name").loc[names["visitor"], "name_parts"] == ["store", "touchpoint+1", "call_centre"]


def _mixed() -> list[dict]:
    """Two behaviours before buying (social or store), half of each buys: conversion is a finding, 50% each."""
    events = []
    for i in range(16):
        day = f"2024-02-{i + 1:02d}"
        s, v = f"social{i}", f"store{i}"
        events += [
            {"user_id": s, "event": "social_click", "timestamp": f"{day}T09:00:00Z"},
            {"user_id": s, "event": "social_click", "timestamp": f"{day}T12:00:00Z"},
            {"user_id": v, "event": "store_visit", "timestamp": f"{day}T10:00:00Z"},
            {"user_id": v, "event": "store_visit", "timestamp": f"{day}T15:00:00Z"},
        ]
        if i % 2:
            events += [{"user_id": u, "event": "purchase", "timestamp": f"{day}T18:00:00Z",
                        "properties": {"revenue": 80}} for u in (s, v)]
            events += [{"user_id": u, "event": "delivery", "timestamp": f"2024-03-{i + 1:02d}T10:00:00Z"}
                        for u in (s, v)]
    return events


def test_persona_conversion_is_measured_not_the_grouping(store, tmp_path):
    """Personas group behaviour before buying, so buying is what the card measures, not what made the group."""
    load_events(store, _mixed(), tmp_path)
    p = find_personas(store, k=2, seed=0)
    assert sorted(p.cards["conversion"]) == [0.5, 0.5]
    assert sorted(p.cards["name"].str.split().str[0]) == ["Social", "Store"]


def test_personas_and_rfm_take_the_shared_filter_options(crowd):
    """personas describes the customers with an event in the filter; rfm counts the purchases in it."""
    db = crowd.path
    crowd.close()
    r = CliRunner().invoke(app, ["--db", db, "rfm", "--from", "2024-02-07", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert {row["customer_id"] for row in json.loads(r.stdout)} == {f"buyer{i}" for i in range(6, 12)}
    r = CliRunner().invoke(app, ["--db", db, "personas", "--k", "2", "--where", "event != 'social_click'",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    assert sum(row["size"] for row in json.loads(r.stdout)) == 24  # the browsers have no event left
