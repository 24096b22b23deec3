"""The abandonment report: who reached a step and not the next in time, their value, where they went."""

from __future__ import annotations

import math

import pytest
from conftest import load_events

from parcours.analytics.friction.abandonment import (
    LEFT,
    abandoned_customers,
    abandonment,
    abandonment_destinations,
)
from parcours.errors import ParcoursError


def ev(user, event, minute, **props):
    return {"user_id": user, "event": event, "timestamp": f"2024-05-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
            "properties": props}


@pytest.fixture
def carts(store, tmp_path):
    """ann buys in time; bob buys too late (2 h); cy carts twice and leaves; dan never carts."""
    load_events(store, [
        ev("ann", "add_to_cart", 0, cart_value=10), ev("ann", "purchase", 20),
        ev("bob", "add_to_cart", 0, cart_value=30), ev("bob", "site_visit", 5), ev("bob", "purchase", 120),
        ev("cy", "add_to_cart", 0, cart_value=5), ev("cy", "add_to_cart", 10, cart_value=7),
        ev("dan", "site_visit", 0), ev("dan", "form_start", 1),
    ], tmp_path)
    return store


def test_cart_summary(carts):
    row = abandonment(carts, "cart", window="1h").iloc[0]
    assert (row["reached"], row["abandoned"]) == (3, 2)
    assert row["abandonment_rate"] == pytest.approx(2 / 3)
    # bob's cart (30) and cy's last cart (7): the carts they left
    assert row["abandoned_value"] == pytest.approx(37)
    assert row["avg_abandoned_value"] == pytest.approx(18.5)


def test_the_export_list(carts):
    df = abandoned_customers(carts, "cart", window="1h")
    assert list(df["customer"]) == ["bob", "cy"]
    assert list(df["value"]) == [30, 7]
    assert df.set_index("customer")["went_to"]["cy"] == LEFT  # nothing after the last cart
    assert df.set_index("customer")["went_to"]["bob"] != LEFT
    assert str(df["reached_at"].iloc[0]) == "2024-05-01 00:00:00"


def test_a_longer_window_forgives_bob(carts):
    assert list(abandoned_customers(carts, "cart", window="3h")["customer"]) == ["cy"]


def test_destinations_and_custom_steps(carts):
    places = abandonment_destinations(carts, "cart", window="1h")
    assert places["customers"].sum() == 2 and places["share"].sum() == pytest.approx(1)
    form = abandonment(carts, None, from_step="form_start", to_step="form_submit", window="1h").iloc[0]
    assert (form["report"], form["reached"], form["abandoned"]) == ("custom", 1, 1)
    assert form["abandoned_value"] is None or math.isnan(form["abandoned_value"])


def test_bad_reports(carts):
    with pytest.raises(ParcoursError, match="unknown; use one of cart"):
        abandonment(carts, "basket")
    with pytest.raises(ParcoursError, match="both from_step and to_step"):
        abandonment(carts, None, from_step="add_to_cart")
    with pytest.raises(ParcoursError, match="not a duration"):
        abandonment(carts, "cart", window="a while")


def test_segment_filter_and_by_segment(carts):
    from parcours.analytics.segments.segments import by_segment, create_segment
    from parcours.query.filter import Filter

    create_segment(carts, "big", "events('site_visit') >= 1")  # bob and dan
    row = abandonment(carts, "cart", window="1h", filter=Filter(segment="big")).iloc[0]
    assert (row["reached"], row["abandoned"], row["abandoned_value"]) == (1, 1, 30)
    assert list(abandoned_customers(carts, "cart", window="1h", filter=Filter(segment="big"))["customer"]) == ["bob"]
    both = by_segment(carts, abandonment, ["big"], include_all=True, report="cart", window="1h")
    assert list(both["segment"]) == ["all", "big"]
    assert list(both["abandoned"]) == [2, 1]
    where = by_segment(carts, abandonment_destinations, ["big"], report="cart", window="1h")
    assert list(where["went_to"]) == ["web_page"]
