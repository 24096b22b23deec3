"""The public API is even: every analysis is ``f(store, ..., filter=None) -> DataFrame``.

Listings of what the store keeps (segments, follow-ups, merges, keys) and writes take no
filter; everything else that answers a question about the journeys does.
"""

from __future__ import annotations

import inspect
import typing

import pandas as pd
import pytest

import parcours
from parcours.errors import ParcoursError

#: public functions over a store that list stored things or write: no filter applies
NOT_ANALYSES = {
    "customer", "customer_profile", "import_file", "load_demo", "merges", "stitch", "store_stats", "unmerge",
    "unmapped_events", "create_followups", "deliver_webhooks", "enqueue_webhooks", "list_followups",
    "update_followup", "create_segment", "delete_segment", "edit_segment", "list_segments", "save_personas",
    "segment_members", "train_lead_model", "import_entities", "persons", "groups",
}


def _store_functions():
    for name in parcours.__all__:
        obj = getattr(parcours, name)
        if inspect.isfunction(obj) and next(iter(inspect.signature(obj).parameters), None) == "store":
            yield name, obj


def test_every_analysis_takes_filter_none():
    missing = []
    for name, fn in _store_functions():
        if name in NOT_ANALYSES:
            continue
        p = inspect.signature(fn).parameters.get("filter")
        if p is None or p.default is not None or p.kind is inspect.Parameter.POSITIONAL_ONLY:
            missing.append(name)
    assert not missing, f"analyses without a `filter=None` keyword: {missing}"


def test_every_analysis_takes_the_filter_by_keyword_only():
    """``filter: Filter | None = None`` after a ``*`` (friction once took it as its 6th positional
    argument): options before it may change without a caller passing the filter as one of them."""
    odd = []
    for name, fn in _store_functions():
        if name in NOT_ANALYSES or name == "events_sql":  # (events_sql: SQL for the analyses, not one)
            continue
        p = inspect.signature(fn).parameters["filter"]
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is not None or p.annotation != "Filter | None":
            odd.append(f"{name}: {p}")
    assert not odd, odd


@pytest.mark.parametrize("name", ["friction", "attribution", "find_personas", "rfm_scores", "score_leads"])
def test_the_uneven_ones_take_the_filter_by_keyword_only(name):
    """friction took the filter as its 6th positional argument; the others took none."""
    p = inspect.signature(getattr(parcours, name)).parameters["filter"]
    assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None


def test_analyses_return_dataframes():
    """Where an analysis says what it returns, it is a DataFrame (personas, the conformance overview: results holding them)."""
    odd = []
    for name, fn in _store_functions():
        if name in NOT_ANALYSES or name in {"events_sql", "find_personas", "conversion_paths", "conformance_overview"}:
            continue
        hint = typing.get_type_hints(fn).get("return")
        if hint is not None and hint is not pd.DataFrame:
            odd.append(f"{name} -> {hint}")
    assert not odd, odd


def test_attribution_takes_a_store_and_paths_go_to_attribute_paths(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("path,total_conversions,total_conversion_value,total_null\na > b,2,10,0\nb,1,5,1\n")
    with pytest.raises(ParcoursError, match="takes a store, not str; for a path file.*attribute_paths"):
        parcours.attribution(str(f))
    result = parcours.attribute_paths(str(f), "linear").set_index("channel")
    assert result["conversions"].to_dict() == pytest.approx({"a": 1.0, "b": 2.0})
