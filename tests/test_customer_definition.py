"""One definition of "customer" (issue 15): a stitched identity, the same on `stats`, the Data page
and the map; a figure that counts something else (customers with a touchpoint) is labelled so."""

from __future__ import annotations

from conftest import load_events

import parcours
from parcours.analytics.journey_map import journey_map
from parcours.analytics.stages.overview import stage_overview, store_stats

EVENTS = [
    {"anonymous_id": "a1", "event": "site_visit", "timestamp": "2024-01-01T10:00:00Z"},
    {"anonymous_id": "a1", "user_id": "u1", "event": "purchase", "timestamp": "2024-01-01T11:00:00Z"},
    {"anonymous_id": "a2", "event": "site_visit", "timestamp": "2024-01-02T10:00:00Z"},
    {"user_id": "u3", "event": "identify", "timestamp": "2024-01-03T10:00:00Z"},  # ignored by the map
]


def test_customers_are_stitched_identities_and_the_touchpoint_count_is_labelled(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    stats = store_stats(store)
    assert stats["customers"] == 3  # a1+u1 stitched; a2; u3
    assert stats["customers_with_touchpoint"] == 2
    assert int(stage_overview(store)["reached"].iloc[0]) == stats["customers_with_touchpoint"]
    assert journey_map(store)["customers"] == stats["customers_with_touchpoint"]
    first = parcours.funnel(store, ["site_visit"])["customers"].iloc[0]
    assert first == 2  # the funnel's first step: customers with that event (a1+u1 count once)


def test_map_label_says_what_it_counts():
    from pathlib import Path

    import parcours.views as views

    body = (Path(views.__file__).parent / "templates" / "map_body.html").read_text()
    assert "t('customers_with_touchpoint')" in body
