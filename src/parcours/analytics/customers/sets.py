"""Who is behind a count: a described set of customers resolved to their ids.

Every count the dashboard shows (a funnel step, a drop-off, a Sankey link, a path, a cohort
cell, a persona, a segment, a friction flag) names its customers the same way: a *kind* and
the options of the analysis that counted them. Each kind is resolved by the analysis' own
function (``funnel_customers``, ``flow_customers``, ``retained_customers``, ...), so the list
has exactly as many customers as the count it came from; a page, a CSV export and a saved
list segment then read the same ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from parcours.analytics.friction.friction import friction_customers
from parcours.analytics.funnels.funnel import FunnelRun
from parcours.analytics.paths.paths import customer_paths, flow_customers
from parcours.analytics.retention.retention import retained_customers
from parcours.analytics.segments.personas import find_personas
from parcours.analytics.segments.segments import save_list_segment, segment_members
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter
from parcours.store.store import Store


def _int(params: dict, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ParcoursError(f"`{name}` {value!r}: must be a whole number") from None


def _text(params: dict, name: str, kind: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise ParcoursError(f"customers of a {kind}: give `{name}` (see parcours.analytics.customers.sets)")
    return str(value)


def _steps(params: dict) -> list[str]:
    steps = [s for s in params.get("steps") or [] if s]
    if len(steps) < 2:
        raise ParcoursError("customers of a funnel: give at least two `steps`")
    return steps


def funnel_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """``reached`` N: the customers the funnel counts at step N; ``dropped`` N: its drop-off at N."""
    steps = _steps(params)
    reached, dropped = _int(params, "reached"), _int(params, "dropped")
    if (reached is None) == (dropped is None):
        raise ParcoursError("customers of a funnel: give one of `reached` (step N) or `dropped` (at step N)")
    options = {k: params[k] for k in ("window", "mode") if params.get(k)}
    run = FunnelRun(store, steps, filter=filter, **options)
    if dropped is not None:
        return run.dropped(dropped)[["customer"]].rename(columns={"customer": "customer_id"})
    if not 1 <= reached <= run.spec.n:
        raise ParcoursError(f"`reached` {reached}: must be one of 1..{run.spec.n} (1-based)")
    df = run.customers()
    ok = ~df["excluded"].to_numpy() & (df["level"].to_numpy() >= reached)
    if reached in run.spec.optional:  # as the step table counts an optional step: only where it happened
        ok &= df[f"step_{reached}_at"].notna().to_numpy()
    return df.loc[ok, ["customer"]].rename(columns={"customer": "customer_id"}).reset_index(drop=True)


def _path_options(params: dict) -> dict:
    return {"start": params.get("start") or None, "collapse_repeats": bool(params.get("collapse")),
            "split_by": params.get("split_by") or None, "split_step": params.get("split_step") or None}


def link_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """The customers through one Sankey link of ``flows``: ``position``, ``source``, ``target``."""
    return flow_customers(store, _int(params, "position", 1), _text(params, "source", "Sankey link"),
                          _text(params, "target", "Sankey link"), max_steps=_int(params, "max_steps", 5),
                          filter=filter, **_path_options(params))


def path_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """The customers on one path of ``top_paths``: ``path``, and the ``start``/``end`` it was counted with."""
    df = customer_paths(store, end=params.get("end") or None, max_length=_int(params, "max_length", 5),
                        filter=filter, path=_text(params, "path", "path"), **_path_options(params))
    return df[["customer_id"]]


def cohort_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """A retention cell: the ``cohort`` (its first day), retained in period ``k`` (or all of it)."""
    return retained_customers(store, _text(params, "cohort", "cohort"), _int(params, "k"),
                              period=params.get("period") or "week", filter=filter)


def persona_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """A persona's members (personas are found over every customer, as on the segments page)."""
    name = _text(params, "persona", "persona")
    members = find_personas(store).members
    if name not in set(members["persona"]):
        raise ParcoursError(f"`persona` {name!r}: no such persona (there are {members['persona'].nunique()}: "
                            f"persona_1 .. persona_{members['persona'].nunique()})")
    return members.loc[members["persona"] == name, ["customer_id"]].sort_values("customer_id", ignore_index=True)


def segment_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """A saved segment's members."""
    return segment_members(store, _text(params, "name", "segment"))


def friction_set(store: Store, params: dict, filter: Filter | None) -> pd.DataFrame:
    """The customers behind a friction flag: ``touchpoint`` and ``signal``."""
    return friction_customers(store, _text(params, "touchpoint", "friction flag"),
                              _text(params, "signal", "friction flag"), filter=filter)


#: Each kind of set, with the function that lists its customers.
KINDS: dict[str, Callable[[Store, dict, Filter | None], pd.DataFrame]] = {
    "funnel": funnel_set, "link": link_set, "path": path_set, "cohort": cohort_set,
    "persona": persona_set, "segment": segment_set, "friction": friction_set,
}


def customer_set(store: Store, kind: str, params: dict[str, Any] | None = None,
                 filter: Filter | None = None) -> pd.DataFrame:
    """The customers of a described set: one ``customer_id`` column, sorted, each once.

    ``kind`` is one of ``KINDS``; ``params`` are the options of the analysis that counted them
    (see each ``*_set`` function). An unknown kind or a missing option is an error naming it.
    """
    if kind not in KINDS:
        raise ParcoursError(f"`set` {kind!r}: use one of {', '.join(KINDS)}")
    df = KINDS[kind](store, dict(params or {}), filter)
    return df.drop_duplicates("customer_id").sort_values("customer_id", ignore_index=True)


#: the name the ids of a set being saved are readable under, and the query the segment's insert reads them with
_SET_TABLE = "_customer_set_ids"
_SET_QUERY = sql("SELECT customer_id FROM _customer_set_ids")


def save_customer_set(store: Store, name: str, kind: str, params: dict[str, Any] | None = None,
                      filter: Filter | None = None, description: str = "") -> int:
    """Save a described set as a list segment (its members as of now); returns how many were saved.

    An empty set is refused: a segment of nobody would silently narrow every analysis to nothing.
    """
    ids = customer_set(store, kind, params, filter)["customer_id"]
    if ids.empty:
        raise ParcoursError(f"save as segment {name!r}: the set has no customers; there is nothing to save")
    # the ids go in as data (a registered table), not as text of the query
    store.register(_SET_TABLE, ids.astype(str).to_frame())
    try:
        save_list_segment(store, name, _SET_QUERY, description)
    finally:
        store.unregister(_SET_TABLE)
    return len(ids)
