"""Friction points: the signals on the demo business, whose generator plants known problems."""

from __future__ import annotations

import math

import pytest

from parcours.analytics.friction.friction import friction
from parcours.errors import ParcoursError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import parcours
    from parcours.demo import load_demo

    store = parcours.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store, customers=3000, seed=1)
    yield store
    store.close()


def test_planted_touchpoints_rank_on_top(demo):
    from parcours.demo import PLANTED_FRICTION

    f = friction(demo)
    ranked = list(dict.fromkeys(f["touchpoint"]))  # touchpoints, worst first
    assert set(ranked[:len(PLANTED_FRICTION)]) == set(PLANTED_FRICTION), ranked
    found = set(zip(f["touchpoint"], f["signal"], strict=True))
    assert {("checkout", "errors"), ("web_form", "loops"), ("web_form", "poor_survey"),
            ("cart", "long_wait"), ("delivery", "support_after")} <= found
    top = f.iloc[0]
    assert top["score"] >= 2 and top["customers"] <= top["base"] and len(top["examples"]) == 3
    assert f["touchpoint_score"].is_monotonic_decreasing and list(f["rank"]) == list(range(1, len(f) + 1))
    assert (f["score"] <= f["z"] + 1e-9).all() and f["weight"].between(0, 1).all()


def test_browsing_back_and_forth_is_weighed_down_by_harm(demo):
    """Site and product pages loop more than the form does, but their loopers fare no worse."""
    f = friction(demo, min_z=-1e9)  # every row, listed or not
    row = f.set_index(["touchpoint", "signal"])
    for page in ("web_page", "product_page"):
        assert row.loc[(page, "loops"), "z"] > row.loc[("web_form", "loops"), "z"]
        assert row.loc[(page, "loops"), "weight"] < 0.5 <= row.loc[("web_form", "loops"), "weight"]
    # ordinary site browsing (leave, come back days later) is within the edge's own waits
    assert row.loc[("web_page", "long_wait"), "rate"] < row.loc[("cart", "long_wait"), "rate"] / 2
    assert row.loc[("checkout", "errors"), "weight"] == 1
    assert math.isnan(row.loc[("checkout", "errors"), "harm"])  # direct signals are not weighed by harm


def test_bad_options_say_what(demo):
    with pytest.raises(ParcoursError, match="`min_customers` 0"):
        friction(demo, min_customers=0)
