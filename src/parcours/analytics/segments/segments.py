"""Saved segments: named groups of customers, kept in the store, usable by every analysis.

A segment is either a *rule* (an expression of the language in ``segment_rules``,
evaluated afresh each time) or a *list* (saved members, e.g. a persona). Either way
its membership is a query (a tree) of ``customer_id``s that the engine runs; nothing here
loads customers into Python. ``Filter(segment=NAME)`` narrows any analysis to the
members, and ``by_segment`` breaks any analysis down by segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import pandas as pd

from parcours.analytics.segments.members import (  # the members' queries, named here too for callers
    SURVEY_EVENT as SURVEY_EVENT,
)
from parcours.analytics.segments.members import (
    Segment,
    get_segment,
    segment_members_query,
)
from parcours.analytics.segments.members import customers_query as customers_query
from parcours.analytics.segments.members import rule_members_query as rule_members_query
from parcours.analytics.segments.rules import compile_rule
from parcours.errors import ParcoursError
from parcours.query import Query, sql
from parcours.query.filter import Filter
from parcours.store.store import Store, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
def _check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise ParcoursError(
            f"segment name {name!r}: use 1-64 letters, digits, '_' or '-' (no spaces)"
        )


def segment_members(store: Store, name: str) -> pd.DataFrame:
    """The members of a saved segment: one ``customer_id`` column, sorted."""
    return store.engine.df(sql("SELECT customer_id FROM {members} ORDER BY customer_id",
                               members=segment_members_query(store, name)))


def create_segment(store: Store, name: str, where: str, description: str = "", replace: bool = False) -> Segment:
    """Save a rule segment; the rule is checked first, so a saved rule always compiles."""
    _check_name(name)
    compile_rule(where, store.config)
    return _save(store, name, "rule", where, description, replace)


def save_list_segment(
    store: Store, name: str, members: Query, description: str = "", replace: bool = False
) -> Segment:
    """Save a list segment whose members are the ``customer_id``s of ``members`` (run by DuckDB).

    ``members`` is a query tree (``parcours.query``).
    """
    _check_name(name)
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        seg = _save(store, name, "list", None, description, replace, in_transaction=True)
        store.execute("DELETE FROM segment_members WHERE segment = ?", [name])
        store.execute(sql("INSERT INTO segment_members SELECT DISTINCT {name}, customer_id FROM {members}",
                          name=name, members=members))
    return seg


def _save(store: Store, name: str, kind: str, expression: str | None, description: str, replace: bool,
          in_transaction: bool = False) -> Segment:
    now = utcnow()
    existing = store.execute("SELECT created_at FROM segments WHERE name = ?", [name]).fetchone()
    if existing and not replace:
        raise ParcoursError(f"segment {name!r} already exists (edit it, or delete it first)")
    created = existing[0] if existing else now
    statements = [("DELETE FROM segments WHERE name = ?", [name]),
                  ("INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)", [name, kind, expression, description, created, now])]
    if in_transaction:
        for sql, params in statements:
            store.execute(sql, params)
    else:
        with store.transaction(changes_data=False):  # no journey data: the journey table stays
            for sql, params in statements:
                store.execute(sql, params)
    return Segment(name, kind, expression, description, created, now)


def edit_segment(store: Store, name: str, where: str | None = None, description: str | None = None) -> Segment:
    """Change a segment's rule and/or description (a list segment's members stay as saved)."""
    seg = get_segment(store, name)
    if where is not None:
        if seg.kind != "rule":
            raise ParcoursError(f"segment {name!r} is a saved list of customers; it has no rule to edit")
        compile_rule(where, store.config)
    return _save(store, name, seg.kind, where if where is not None else seg.expression,
                 description if description is not None else seg.description, replace=True)


def delete_segment(store: Store, name: str) -> None:
    get_segment(store, name)
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        store.execute("DELETE FROM segments WHERE name = ?", [name])
        store.execute("DELETE FROM segment_members WHERE segment = ?", [name])


def list_segments(store: Store, with_counts: bool = True) -> pd.DataFrame:
    """Saved segments: ``name``, ``kind``, ``expression``, ``description``, ``members``, ``updated_at``."""
    df = store.execute(
        "SELECT name, kind, expression, description, updated_at FROM segments ORDER BY name"
    ).df()
    if with_counts:
        df.insert(4, "members", [
            int(store.engine.scalar(sql("SELECT count(*) FROM {members}", members=segment_members_query(store, n))))
            for n in df["name"]
        ])
    return df


def by_segment(
    store: Store,
    analysis: Callable[..., pd.DataFrame],
    segments: Iterable[str],
    *,
    filter: Filter | None = None,
    include_all: bool = False,
    **kwargs,
) -> pd.DataFrame:
    """Run ``analysis(store, ..., filter=...)`` once per segment and stack the results.

    Works for every analysis that takes a ``Filter``, present or future: the result has
    the analysis' own columns with a ``segment`` column in front (``"all"`` for the
    whole population when ``include_all``).
    """
    base = filter or Filter()
    names = list(segments)
    for n in names:
        get_segment(store, n)
    runs = ([("all", base)] if include_all else []) + [(n, base.model_copy(update={"segment": n})) for n in names]
    parts = []
    for label, f in runs:
        part = analysis(store, filter=f, **kwargs)
        part.insert(0, "segment", label)
        parts.append(part)
    if not parts:
        raise ParcoursError("by_segment: name at least one segment")
    return pd.concat(parts, ignore_index=True)
