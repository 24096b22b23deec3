"""Conversion paths built from a small store, checked by hand, and the store side of the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.attribution import attribution, conversion_paths
from parcours.cli.main import app
from parcours.errors import ParcoursError


def day(n: int) -> str:
    return f"2024-01-{n:02d}T10:00:00Z" if n <= 31 else f"2024-02-{n - 31:02d}T10:00:00Z"


EVENTS = [
    # u1: two campaigns, then a purchase, then a social click that leads nowhere
    {"user_id": "u1", "event": "ad_click", "timestamp": day(1), "utm_campaign": "spring"},
    {"user_id": "u1", "event": "email_open", "timestamp": day(2), "utm_campaign": "news"},
    {"user_id": "u1", "event": "purchase", "timestamp": day(3), "properties": {"revenue": 100}},
    {"user_id": "u1", "event": "social_click", "timestamp": day(4)},
    # u2: a social click 40 days before the ad that converts: outside a 30-day lookback
    {"user_id": "u2", "event": "social_click", "timestamp": day(1)},
    {"user_id": "u2", "event": "ad_click", "timestamp": day(40), "utm_campaign": "spring"},
    {"user_id": "u2", "event": "purchase", "timestamp": day(41), "properties": {"revenue": 50}},
    # u3: buys with no touch at all
    {"user_id": "u3", "event": "purchase", "timestamp": day(5), "properties": {"revenue": 5}},
    # u5: reads two emails, never buys
    {"user_id": "u5", "event": "email_open", "timestamp": day(1), "utm_campaign": "news"},
    {"user_id": "u5", "event": "email_open", "timestamp": day(2), "utm_campaign": "news"},
    # u6: one ad, two purchases (the second has no new touch); a touch at the purchase instant counts
    {"user_id": "u6", "event": "ad_click", "timestamp": day(1)},
    {"user_id": "u6", "event": "purchase", "timestamp": day(2), "properties": {"revenue": 10}},
    {"user_id": "u6", "event": "site_visit", "timestamp": day(3)},
    {"user_id": "u6", "event": "purchase", "timestamp": day(3), "properties": {"revenue": 20, "repeat": True}},
]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    return store


def rows(table) -> set[tuple]:
    return {(r.path, r.total_conversions, r.total_conversion_value, r.total_null)
            for r in table.to_frame().itertuples()}


def test_channel_paths_by_hand(shop):
    assert rows(conversion_paths(shop, touches="stage:awareness")) == {
        ("ads > email", 1, 100, 0),  # u1
        ("social", 0, 0, 1),  # u1 after buying
        ("ads", 2, 60, 0),  # u2 (social too old) and u6's first purchase
        ("(none)", 2, 25, 0),  # u3, u6's repeat purchase
        ("email > email", 0, 0, 1),  # u5
    }


def test_every_mapped_event_is_a_touch_by_default(shop):
    paths = rows(conversion_paths(shop))
    assert ("web", 1, 20, 0) in paths  # u6's site visit at the instant of the repeat purchase


def test_longer_lookback_reaches_older_touches(shop):
    assert ("social > ads", 1, 50, 0) in rows(conversion_paths(shop, lookback="60d", touches="stage:awareness"))


def test_campaign_and_touchpoint_levels(shop):
    assert rows(conversion_paths(shop, level="campaign")) == {
        ("spring > news", 1, 100, 0), ("spring", 1, 50, 0), ("news > news", 0, 0, 1), ("(none)", 3, 35, 0)}
    assert ("display_ad > email_campaign", 1, 100, 0) in rows(conversion_paths(shop, level="touchpoint"))


def test_conversion_can_be_a_touchpoint_or_reaching_a_stage(shop):
    # an email open as the conversion: u1's ad leads to one; u5's two opens convert with no touch before;
    # u2's and u6's ads lead to no email, u1's social click neither
    by_email = rows(conversion_paths(shop, conversion="touchpoint:email_campaign", touches="stage:awareness"))
    assert by_email == {("ads", 1, 0, 2), ("(none)", 2, 0, 0), ("social", 0, 0, 1)}
    # reaching the retention stage: only u6's repeat purchase (the first retention event) converts;
    # u1 (purchase is a decision event), u2 and u5 never reach retention
    retention = rows(conversion_paths(shop, conversion="stage:retention", touches="stage:awareness"))
    assert retention == {("ads", 1, 20, 1), ("ads > email > social", 0, 0, 1), ("email > email", 0, 0, 1)}


def test_attribution_from_the_store(shop):
    result = attribution(shop, ["last_touch", "markov"], touches="stage:awareness").set_index(["model", "channel"])
    assert result.loc[("last_touch", "ads"), "conversions"] == 2
    assert result.loc[("last_touch", "email"), "value"] == 100
    assert result.xs("markov")["conversions"].sum() == pytest.approx(5)


def test_bad_store_options(shop, store):
    with pytest.raises(ParcoursError, match="level 'utm'"):
        conversion_paths(shop, level="utm")
    with pytest.raises(ParcoursError, match="lookback 'soon'"):
        conversion_paths(shop, lookback="soon")
    with pytest.raises(ParcoursError, match="lookback '-3d': must be positive"):
        conversion_paths(shop, lookback="-3d")
    with pytest.raises(ParcoursError, match="no channel touches"):
        conversion_paths(shop, conversion="nothing_like_this", touches="nothing_either")


def test_cli_on_the_store(shop):
    db = shop.path
    shop.close()
    res = CliRunner().invoke(app, ["--db", db, "attribution", "--model", "first_touch", "--level", "campaign",
                                   "--lookback", "30d", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {r["channel"]: (r["conversions"], r["value"]) for r in json.loads(res.stdout)}
    assert got == {"spring": (2.0, 150.0), "(none)": (3.0, 35.0), "news": (0.0, 0.0)}
