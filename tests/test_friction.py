"""Friction points: the signals on the demo business, whose generator plants known problems."""

from __future__ import annotations

import pytest

from parcours.analytics.friction import friction
from parcours.errors import ParcoursError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import parcours
    from parcours.demo import load_demo

    store = parcours.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store, customers=3000, seed=1)
    yield store
    store.close()


def test_planted_problems_are_found_with_their_signal(demo):
    from parcours.demo import PLANTED_FRICTION

    f = friction(demo)
    found = set(zip(f["touchpoint"], f["signal"], strict=True))
    assert {("checkout", "errors"), ("web_form", "loops"), ("web_form", "poor_survey"),
            ("cart", "long_wait"), ("delivery", "support_after")} <= found
    assert set(PLANTED_FRICTION) <= set(f["touchpoint"])
    top = f.iloc[0]
    assert top["z"] >= 2 and top["customers"] <= top["base"] and len(top["examples"]) == 3
    assert f["z"].is_monotonic_decreasing and list(f["rank"]) == list(range(1, len(f) + 1))


def test_bad_options_say_what(demo):
    with pytest.raises(ParcoursError, match="--min-customers 0"):
        friction(demo, min_customers=0)
