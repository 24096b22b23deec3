"""Saved segments: named groups of customers, kept in the store, usable by every analysis.

A segment is either a *rule* (an expression of the language in ``segment_rules``,
evaluated afresh each time) or a *list* (saved members, e.g. a persona). Either way
its membership is a SQL query of ``customer_id``s that the engine runs; nothing here
loads customers into Python. ``Filter(segment=NAME)`` narrows any analysis to the
members, and ``by_segment`` breaks any analysis down by segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from parcours.analytics.filters import Filter, events_sql
from parcours.analytics.names import UnknownName, closest
from parcours.analytics.segment_rules import Count, Rule, compile_rule, trait_column
from parcours.errors import ParcoursError
from parcours.matcher import json_path, quote
from parcours.store.store import Store, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
#: the survey convention: ``survey_response`` events with properties ``metric`` and ``score``
SURVEY_EVENT = "survey_response"


@dataclass
class Segment:
    name: str
    kind: str  #: "rule" or "list"
    expression: str | None
    description: str
    created_at: datetime
    updated_at: datetime


def _check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise ParcoursError(
            f"segment name {name!r}: use 1-64 letters, digits, '_' or '-' (no spaces)"
        )


def _count_sql(c: Count) -> str:
    what = f"event = {quote(c.name)}" if c.kind == "events" else f"touchpoint = {quote(c.name)}"
    if c.days is not None:
        what += f" AND timestamp >= (SELECT max(timestamp) FROM events) - INTERVAL {int(c.days)} DAY"
    return f"sum(CASE WHEN {what} THEN 1 ELSE 0 END) AS {c.column}"


def _first(column: str, alias: str, latest: bool = False) -> str:
    """The value of ``column`` on the customer's first (or latest) event where it is not null.

    Events at the same instant are ordered by ``message_id``, so the answer does not depend
    on the order rows reach the aggregate (materialized table, live relation, another engine).
    """
    fn = "arg_max" if latest else "arg_min"
    return f"{fn}({column}, CASE WHEN {column} IS NOT NULL THEN (timestamp, message_id) END) AS {alias}"


def customers_sql(store: Store, rule: Rule | None = None) -> str:
    """One row per customer with every field the rule language names (and the rule's extra counts).

    Days are counted back from the latest event in the store, so a rule means the
    same thing on historical data as on live data.
    """
    config = store.config
    ref = "(SELECT max(timestamp) FROM events)"
    value = f"TRY_CAST(json_extract_string(properties, {json_path(config.value_property)}) AS DOUBLE)"
    purchase = f"event = {quote(config.purchase_event)}"
    survey = f"event = {quote(SURVEY_EVENT)}"
    score = "TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE)"
    nps_score = f"CASE WHEN {survey} AND json_extract_string(properties, '$.metric') = 'nps' THEN {score} END"
    extra = [_count_sql(c) for c in sorted(rule.counts, key=lambda c: c.column)] if rule else []
    for trait in sorted(rule.traits) if rule else []:
        path, ctx_path = json_path(trait), quote('$."traits"."' + trait.replace('"', '\\"') + '"')
        value_text = f"coalesce(json_extract_string(properties, {path}), json_extract_string(context, {ctx_path}))"
        extra.append(_first(f"(CASE WHEN type = 'identify' THEN {value_text} END)", trait_column(trait), latest=True))
    columns = [
        "customer_id",
        _first("(CASE WHEN stage_index IS NOT NULL THEN channel END)", "channel"),
        _first("utm_campaign", "campaign"),
        _first("utm_source", "source"),
        _first("utm_medium", "medium"),
        "max(stage_index) AS furthest_stage_index",
        _first("stage_index", "current_stage_index", latest=True),
        _first(nps_score, "nps_score", latest=True),
        f"avg(CASE WHEN {survey} THEN {score} END) AS satisfaction",
        f"coalesce(sum(CASE WHEN {purchase} THEN {value} END), 0) AS value",
        f"sum(CASE WHEN {purchase} THEN 1 ELSE 0 END) AS purchases",
        "count(*) AS events",
        f"(epoch({ref}) - epoch(max(timestamp))) / 86400.0 AS recency_days",
        f"(epoch({ref}) - epoch(min(timestamp))) / 86400.0 AS tenure_days",
        *extra,
    ]
    return f"""
    SELECT c.*,
           CASE WHEN c.nps_score >= 9 THEN 'promoter' WHEN c.nps_score >= 7 THEN 'passive'
                WHEN c.nps_score IS NOT NULL THEN 'detractor' END AS nps,
           ls.score AS lead_score
    FROM (SELECT {", ".join(columns)} FROM ({events_sql(store)}) GROUP BY customer_id) c
    LEFT JOIN lead_scores ls ON ls.customer_id = c.customer_id
    """


def rule_members_sql(store: Store, expression: str) -> str:
    """SQL of the ``customer_id``s an (unsaved) rule selects."""
    rule = compile_rule(expression, store.config)
    return f"SELECT customer_id FROM ({customers_sql(store, rule)}) WHERE {rule.sql}"


def get_segment(store: Store, name: str) -> Segment:
    row = store.con.execute(
        "SELECT name, kind, expression, description, created_at, updated_at FROM segments WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        known = [r[0] for r in store.con.execute("SELECT name FROM segments").fetchall()]
        near = closest(name, known)
        hint = f"did you mean {' or '.join(near)}?" if near else "see `parcours segment list`"
        raise UnknownName(f"segment {name!r}: no such segment; {hint}")
    return Segment(*row)


def segment_members_sql(store: Store, name: str) -> str:
    """SQL of the ``customer_id``s of the saved segment ``name``: what ``Filter.segment`` uses."""
    seg = get_segment(store, name)
    if seg.kind == "list":
        return f"SELECT customer_id FROM segment_members WHERE segment = {quote(seg.name)}"
    return rule_members_sql(store, seg.expression)


def segment_members(store: Store, name: str) -> pd.DataFrame:
    """The members of a saved segment: one ``customer_id`` column, sorted."""
    return store.engine.df(f"SELECT customer_id FROM ({segment_members_sql(store, name)}) ORDER BY customer_id")


def create_segment(store: Store, name: str, where: str, description: str = "", replace: bool = False) -> Segment:
    """Save a rule segment; the rule is checked first, so a saved rule always compiles."""
    _check_name(name)
    compile_rule(where, store.config)
    return _save(store, name, "rule", where, description, replace)


def save_list_segment(
    store: Store, name: str, members_sql: str, description: str = "", replace: bool = False
) -> Segment:
    """Save a list segment whose members are the ``customer_id``s of ``members_sql`` (run by DuckDB)."""
    _check_name(name)
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        seg = _save(store, name, "list", None, description, replace, in_transaction=True)
        store.con.execute("DELETE FROM segment_members WHERE segment = ?", [name])
        store.con.execute(
            f"INSERT INTO segment_members SELECT DISTINCT {quote(name)}, customer_id FROM ({members_sql})"
        )
    return seg


def _save(store: Store, name: str, kind: str, expression: str | None, description: str, replace: bool,
          in_transaction: bool = False) -> Segment:
    now = utcnow()
    existing = store.con.execute("SELECT created_at FROM segments WHERE name = ?", [name]).fetchone()
    if existing and not replace:
        raise ParcoursError(f"segment {name!r} already exists (edit it, or delete it first)")
    created = existing[0] if existing else now
    statements = [("DELETE FROM segments WHERE name = ?", [name]),
                  ("INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)", [name, kind, expression, description, created, now])]
    if in_transaction:
        for sql, params in statements:
            store.con.execute(sql, params)
    else:
        with store.transaction(changes_data=False):  # no journey data: the journey table stays
            for sql, params in statements:
                store.con.execute(sql, params)
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
        store.con.execute("DELETE FROM segments WHERE name = ?", [name])
        store.con.execute("DELETE FROM segment_members WHERE segment = ?", [name])


def list_segments(store: Store, with_counts: bool = True) -> pd.DataFrame:
    """Saved segments: ``name``, ``kind``, ``expression``, ``description``, ``members``, ``updated_at``."""
    df = store.con.execute(
        "SELECT name, kind, expression, description, updated_at FROM segments ORDER BY name"
    ).df()
    if with_counts:
        df.insert(4, "members", [
            int(store.engine.scalar(f"SELECT count(*) FROM ({segment_members_sql(store, n)})")) for n in df["name"]
        ])
    return df


def by_segment(
    store: Store,
    analysis: Callable[..., pd.DataFrame],
    segments: Iterable[str],
    flt: Filter | None = None,
    include_all: bool = False,
    **kwargs,
) -> pd.DataFrame:
    """Run ``analysis(store, ..., flt=...)`` once per segment and stack the results.

    Works for every analysis that takes a ``Filter``, present or future: the result has
    the analysis' own columns with a ``segment`` column in front (``"all"`` for the
    whole population when ``include_all``).
    """
    base = flt or Filter()
    names = list(segments)
    for n in names:
        get_segment(store, n)
    runs = ([("all", base)] if include_all else []) + [(n, base.model_copy(update={"segment": n})) for n in names]
    parts = []
    for label, f in runs:
        part = analysis(store, flt=f, **kwargs)
        part.insert(0, "segment", label)
        parts.append(part)
    if not parts:
        raise ParcoursError("by_segment: name at least one segment")
    return pd.concat(parts, ignore_index=True)
