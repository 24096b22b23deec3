"""One customer seen whole: identities, first/last seen, furthest and current stage, timeline."""

from __future__ import annotations

import json

import pytest
from conftest import load_events

import parcours

JOURNEY = [
    {"anonymous_id": "dev1", "event": "ad_click", "timestamp": "2024-02-01T09:00:00Z", "utm_campaign": "winter"},
    {"anonymous_id": "dev1", "event": "product_view", "timestamp": "2024-02-01T09:05:00Z",
     "properties": {"sku": "A1"}},
    {"user_id": "ann", "anonymous_id": "dev1", "type": "identify", "timestamp": "2024-02-01T09:10:00Z",
     "properties": {"email": "ann@example.com"}},
    {"user_id": "ann", "event": "purchase", "timestamp": "2024-02-02T10:00:00Z", "properties": {"revenue": 80}},
    {"user_id": "ann", "event": "delivery", "timestamp": "2024-02-04T10:00:00Z", "channel": "courier"},
    {"user_id": "ann", "event": "chat_message", "timestamp": "2024-02-05T10:00:00Z"},
    {"anonymous_id": "other", "event": "site_visit", "timestamp": "2024-02-01T09:00:00Z"},
]


@pytest.fixture
def profile(store, tmp_path):
    load_events(store, JOURNEY, tmp_path)
    return parcours.customer(store, "ann")


def test_identities_and_dates(profile):
    assert profile.customer_id == "ann"
    assert profile.identities["identifier"].tolist() == ["dev1", "ann", "email:ann@example.com"]
    assert profile.identities["kind"].tolist() == ["anonymous", "user", "email"]
    assert str(profile.first_seen) == "2024-02-01 09:00:00"
    assert str(profile.last_seen) == "2024-02-05 10:00:00"


def test_furthest_and_current_stage(profile):
    # furthest: retention (delivery); current: the stage of the latest touchpoint (chat: consideration)
    assert profile.furthest_stage == "retention"
    assert profile.current_stage == "consideration"


def test_timeline(profile):
    t = profile.timeline
    assert t["event"].tolist() == ["ad_click", "product_view", "identify", "purchase", "delivery", "chat_message"]
    assert t["touchpoint"].tolist()[:2] == ["display_ad", "product_page"]
    assert t["stage"].tolist()[3:5] == ["decision", "retention"]
    assert t["channel"].tolist()[4] == "courier"  # the event's own channel wins over the touchpoint's
    assert t["utm_campaign"].tolist()[0] == "winter"
    assert json.loads(t["properties"].tolist()[3]) == {"revenue": 80}
    assert t["timestamp"].is_monotonic_increasing


def test_any_identifier_finds_the_same_customer(store, profile):
    for ident in ("dev1", "ann@example.com", "email:ann@example.com"):
        assert parcours.customer(store, ident).customer_id == "ann"
    summary = profile.summary()
    assert summary["customer"] == "ann" and summary["events"] == 6
    assert summary["first_seen"] == "2024-02-01T09:00:00"


def test_customer_without_touchpoints(store, tmp_path):
    load_events(store, [{"user_id": "zed", "event": "teleport", "timestamp": "2024-01-01T00:00:00Z"}], tmp_path)
    p = parcours.customer(store, "zed")
    assert p.furthest_stage is None and p.current_stage is None and len(p.timeline) == 1


def test_unknown_and_ambiguous_identifiers(store, tmp_path):
    load_events(store, [
        {"user_id": "u1", "event": "x", "timestamp": "2024-01-01T00:00:00Z", "properties": {"phone": "555"}},
        {"user_id": "u2", "event": "x", "timestamp": "2024-01-01T00:00:00Z", "properties": {"crm_id": "555"}},
    ], tmp_path)
    with pytest.raises(parcours.ParcoursError, match="'nobody': no customer"):
        parcours.customer(store, "nobody")
    with pytest.raises(parcours.ParcoursError, match="several customers have this value"):
        parcours.customer(store, "555")
    assert parcours.customer(store, "phone:555").customer_id == "u1"
