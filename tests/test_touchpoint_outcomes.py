"""Touchpoint outcomes (conversion onward, drop-off, typical order) on journeys checked by hand."""

from __future__ import annotations

import math

import pytest
from conftest import load_events

from parcours.analytics.stages.touchpoint_outcomes import touchpoint_outcomes
from parcours.errors import ParcoursError

# customer -> (event, hours after 2024-03-01 08:00 UTC); five-stage template touchpoints in brackets
JOURNEYS = {
    # display_ad > product_page > web_page > cart > purchase (its last step), then a survey (not a step)
    "a": [("ad_click", 0), ("product_view", 1), ("site_visit", 2), ("add_to_cart", 3), ("purchase", 4),
          ("survey_response", 5)],
    # organic_search > product_page > web_page: ends on the web site
    "b": [("search_click", 0), ("product_view", 1), ("site_visit", 2)],
    # display_ad, and nothing else
    "c": [("ad_click", 0)],
    # web_page > display_ad > product_page: back to awareness, ends on a product page
    "d": [("site_visit", 0), ("ad_click", 1), ("product_view", 2)],
    # a review only: the last stage has no later stage to convert to
    "e": [("review_posted", 0)],
}


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, [{"user_id": cid, "event": name, "timestamp": f"2024-03-01T{8 + h:02d}:00:00Z",
                         "properties": {"metric": "nps", "score": 9} if name == "survey_response" else {}}
                        for cid, steps in JOURNEYS.items() for name, h in steps], tmp_path)
    return store


def test_conversion_onward_drop_off_and_typical_order(shop):
    out = touchpoint_outcomes(shop).set_index("touchpoint")
    # every declared touchpoint, in the journey file's order
    config = shop.config
    assert list(out.index) == [t.name for s in config.stages for t in config.touchpoints if t.stage == s.name]
    expected = {  # customers, onward, dropped, mean position in the stage
        "display_ad": (3, 2, 1, 1.0),  # a and d go on to consideration; c stops
        "organic_search": (1, 1, 0, 1.0),
        "product_page": (3, 1, 1, 4 / 3),  # first in consideration for a and b, second for d
        "web_page": (3, 1, 1, 5 / 3),  # only a goes on (to decision); b stops here
        "cart": (1, 0, 0, 1.0),  # a buys, in the same stage
        "purchase": (1, 0, 1, 2.0),  # the survey after it is not a step
        "review": (1, 0, 1, 1.0),
    }
    for tp, (customers, onward, dropped, position) in expected.items():
        row = out.loc[tp]
        assert (row["customers"], row["onward"], row["dropped"]) == (customers, onward, dropped), tp
        assert row["position"] == pytest.approx(position), tp
        assert row["dropoff"] == pytest.approx(dropped / customers), tp
    assert out.loc["display_ad", "conversion"] == pytest.approx(2 / 3)
    assert out.loc["web_page", "conversion"] == pytest.approx(1 / 3)
    # the last stage converts to nothing: no rate rather than 0%
    assert math.isnan(out.loc["review", "conversion"])
    # a touchpoint nobody used has no rates, not zeros
    unused = out.loc["social_media"]
    assert unused["customers"] == 0 and math.isnan(unused["conversion"]) and math.isnan(unused["dropoff"])
    assert math.isnan(unused["position"])


def test_needs_mapped_touchpoints(store, tmp_path):
    load_events(store, [{"user_id": "x", "event": "nothing_we_know", "timestamp": "2024-03-01T08:00:00Z"}], tmp_path)
    with pytest.raises(ParcoursError, match="touchpoint outcomes"):
        touchpoint_outcomes(store)
