"""Who is behind a count: every set lists as many customers as the analysis counted, on a small demo."""

from __future__ import annotations

import pytest

import parcours
from parcours.analytics.customers.sets import customer_set, save_customer_set
from parcours.analytics.friction.friction import friction, friction_customers
from parcours.analytics.funnels.funnel import funnel
from parcours.analytics.paths.paths import flows, top_paths
from parcours.analytics.retention.retention import retained_customers, retention
from parcours.analytics.segments.personas import find_personas
from parcours.analytics.segments.segments import list_segments, segment_members
from parcours.errors import ParcoursError
from parcours.query.filter import Filter, parse_where

STEPS = ["stage:awareness", "stage:consideration", "stage:decision", "stage:retention"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with parcours.open(tmp_path_factory.mktemp("sets") / "demo.duckdb") as store:
        parcours.load_demo(store, customers=600, seed=11)
        yield store


@pytest.mark.parametrize("options", [{}, {"window": "2d", "mode": "unordered"}])
def test_funnel_step_and_drop_off_customers_equal_the_funnel_counts(demo, options):
    table = funnel(demo, STEPS, **options)
    assert table["customers"].iloc[2] > 0  # the demo goes that far: the check is not vacuous
    for r in table.itertuples():
        reached = customer_set(demo, "funnel", {"steps": STEPS, "reached": r.step, **options})
        assert len(reached) == r.customers
        if r.step > 1:
            dropped = customer_set(demo, "funnel", {"steps": STEPS, "dropped": r.step, **options})
            assert len(dropped) == r.drop_off
            assert not set(dropped["customer_id"]) & set(reached["customer_id"])


def test_funnel_customers_follow_the_filter(demo):
    f = Filter(where=[parse_where("channel = 'web'")])
    table = funnel(demo, STEPS[:2], filter=f)
    assert len(customer_set(demo, "funnel", {"steps": STEPS[:2], "reached": 2}, f)) == table["customers"].iloc[1]


def test_sankey_link_and_path_customers_equal_their_counts(demo):
    links = flows(demo, start="touchpoint:cart", max_steps=3, collapse_repeats=True)
    for r in links.head(6).itertuples():
        ids = customer_set(demo, "link", {"start": "touchpoint:cart", "max_steps": "3", "collapse": "1",
                                          "position": str(r.position), "source": r.source, "target": r.target})
        assert len(ids) == r.customers
    paths = top_paths(demo, end="touchpoint:checkout", top=5)
    for r in paths[paths["path"] != "(other)"].itertuples():
        assert len(customer_set(demo, "path", {"end": "touchpoint:checkout", "path": r.path})) == r.customers


def test_cohort_cell_customers_equal_retained_and_size(demo):
    table = retention(demo, period="week")
    cells = table[(table["retained"] > 0) & (table["period"] > 0)].head(3)
    assert len(cells)
    for r in cells.itertuples():
        assert len(retained_customers(demo, str(r.cohort), r.period)) == r.retained
        assert len(customer_set(demo, "cohort", {"cohort": str(r.cohort), "k": str(r.period)})) == r.retained
        assert len(customer_set(demo, "cohort", {"cohort": str(r.cohort)})) == r.size


def test_friction_persona_and_segment_customers(demo):
    flags = friction(demo, min_z=0.0, min_customers=5)
    flags = flags[(flags["signal"] != "poor_survey") & (flags["customers"] > 0)].head(3)  # answers: see below
    assert len(flags)
    for r in flags.itertuples():
        ids = customer_set(demo, "friction", {"touchpoint": r.touchpoint, "signal": r.signal})
        assert len(ids) == r.customers
        assert set(r.examples) <= set(ids["customer_id"])
    cards = find_personas(demo).cards
    first = cards.iloc[0]
    assert len(customer_set(demo, "persona", {"persona": first["persona"]})) == first["size"]
    parcours.create_segment(demo, "buyers", "purchases >= 1")
    assert customer_set(demo, "segment", {"name": "buyers"}).equals(segment_members(demo, "buyers"))


def test_save_a_set_as_a_list_segment(demo):
    params = {"steps": STEPS, "dropped": 2}
    saved = save_customer_set(demo, "dropped_at_2", "funnel", params, description="from the test")
    members = segment_members(demo, "dropped_at_2")
    assert saved == len(members) == funnel(demo, STEPS)["drop_off"].iloc[1]
    assert members["customer_id"].tolist() == customer_set(demo, "funnel", params)["customer_id"].tolist()
    row = list_segments(demo).set_index("name").loc["dropped_at_2"]
    assert row["kind"] == "list"
    with pytest.raises(ParcoursError, match="already exists"):
        save_customer_set(demo, "dropped_at_2", "funnel", params)
    with pytest.raises(ParcoursError, match="nothing to save"):
        save_customer_set(demo, "nobody", "path", {"end": "touchpoint:checkout", "path": "no > such > path"})


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("nope", {}, "use one of funnel, link"),
    ("funnel", {"steps": STEPS}, "one of `reached`"),
    ("funnel", {"steps": STEPS, "reached": 1, "dropped": 2}, "one of `reached`"),
    ("funnel", {"steps": STEPS[:1], "reached": 1}, "at least two"),
    ("funnel", {"steps": STEPS, "reached": 9}, "1..4"),
    ("funnel", {"steps": STEPS, "dropped": "x"}, "whole number"),
    ("link", {"position": 1, "source": "cart"}, "give `target`"),
    ("cohort", {"cohort": "soon"}, "not a date"),
    ("persona", {"persona": "persona_99"}, "no such persona"),
    ("segment", {"name": "ghosts"}, "ghosts"),
    ("friction", {"touchpoint": "chekout", "signal": "loops"}, "did you mean checkout"),
    ("friction", {"touchpoint": "checkout", "signal": "rage"}, "use one of dropoff"),
])
def test_a_bad_description_is_an_error_that_names_it(demo, kind, params, message):
    with pytest.raises(ParcoursError, match=message):
        customer_set(demo, kind, params)


def test_poor_survey_flag_lists_each_customer_once(demo):
    """poor_survey counts answers: a customer with two poor answers is one customer in the list."""
    flags = friction(demo, min_z=0.0, min_customers=5)
    poor = flags[(flags["signal"] == "poor_survey") & (flags["customers"] > 0)]
    assert len(poor)
    r = poor.iloc[0]
    ids = friction_customers(demo, r["touchpoint"], "poor_survey")
    assert 0 < len(ids) <= r["customers"]
    assert ids["customer_id"].is_unique and set(r["examples"]) <= set(ids["customer_id"])
