"""Properties every attribution model must keep, on random path tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.analytics.attribution import MODELS, attribute_paths, shapley
from parcours.analytics.attribution.paths import PathTable

CHANNELS = ["a", "b", "c", "d", "e"]

rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
        st.integers(0, 20),
        st.floats(0, 1000, allow_nan=False),
        st.integers(0, 20),
    ),
    min_size=1,
    max_size=12,
)


def make(data) -> PathTable:
    frame = pd.DataFrame(
        [(" > ".join(p), c, v if c else 0.0, n) for p, c, v, n in data],
        columns=["path", "total_conversions", "total_conversion_value", "total_null"],
    )
    return PathTable.from_frame(frame)


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rows, st.integers(1, 3))
def test_every_model_credits_exactly_the_totals(data, order):
    paths = make(data)
    result = attribute_paths(paths, order=order)
    sums = result.groupby("model")[["conversions", "value"]].sum()
    total_conv, total_value = paths.conversions.sum(), paths.value.sum()
    for model in MODELS:
        assert sums.loc[model, "conversions"] == pytest.approx(total_conv, rel=1e-9, abs=1e-9)
        assert sums.loc[model, "value"] == pytest.approx(total_value, rel=1e-9, abs=1e-6)
    assert (result["conversions"] >= 0).all() and (result["value"] >= 0).all()


@SETTINGS
@given(rows, st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=4), st.integers(1, 20))
def test_a_channel_in_no_converting_path_gets_nothing(data, dead_path, nulls):
    data = [*data, (dead_path, 0, 0.0, nulls)]
    result = attribute_paths(make(data), [m for m in MODELS if m != "markov"])
    dead = result[result["channel"].isin(["x", "y"])]
    assert (dead["conversions"] == 0).all() and (dead["value"] == 0).all()


@SETTINGS
@given(rows)
def test_symmetric_channels_get_equal_shapley_values(data):
    # mirror every path with a and b swapped: the game is then symmetric in a and b
    swap = {"a": "b", "b": "a"}
    mirrored = [([swap.get(c, c) for c in p], conv, value, n) for p, conv, value, n in data]
    result = shapley(make(data + mirrored)).set_index("channel")
    if "a" in result.index:
        assert result.loc["a", "conversions"] == pytest.approx(result.loc["b", "conversions"], rel=1e-9, abs=1e-9)
        assert result.loc["a", "value"] == pytest.approx(result.loc["b", "value"], rel=1e-9, abs=1e-9)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_row_order_does_not_change_any_model(data):
    forward = attribute_paths(make(data)).set_index(["model", "channel"]).sort_index()
    backward = attribute_paths(make(list(reversed(data)))).set_index(["model", "channel"]).sort_index()
    np.testing.assert_allclose(forward[["conversions", "value"]], backward[["conversions", "value"]],
                               rtol=1e-9, atol=1e-9)
