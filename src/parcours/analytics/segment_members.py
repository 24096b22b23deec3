"""Who is in a segment: the SQL of a rule's or a saved segment's ``customer_id``s.

Below ``filters`` (``Filter(segment=NAME)`` narrows by these members) and below
``segments`` (which saves, lists and breaks analyses down by segments), so that the
two do not import each other. It reads the whole journey relation, unfiltered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parcours.analytics.names import UnknownName, closest
from parcours.analytics.segment_rules import Count, Rule, compile_rule, trait_column
from parcours.journey.materialized import journey_source
from parcours.journey.relation import EVENT_ORDER
from parcours.matcher import json_path, quote
from parcours.store.store import Store

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


def _count_sql(c: Count) -> str:
    what = f"event = {quote(c.name)}" if c.kind == "events" else f"touchpoint = {quote(c.name)}"
    if c.days is not None:
        what += f" AND timestamp >= (SELECT max(timestamp) FROM events) - INTERVAL {int(c.days)} DAY"
    return f"sum(CASE WHEN {what} THEN 1 ELSE 0 END) AS {c.column}"


def _first(column: str, alias: str, latest: bool = False) -> str:
    """The value of ``column`` on the customer's first (or latest) event where it is not null.

    Events at the same instant are ordered as recorded (``EVENT_ORDER``), so the answer does not
    depend on the order rows reach the aggregate (materialized table, live relation, another engine).
    """
    fn = "arg_max" if latest else "arg_min"
    return f"{fn}({column}, CASE WHEN {column} IS NOT NULL THEN ({EVENT_ORDER}) END) AS {alias}"


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
    FROM (SELECT {", ".join(columns)} FROM {journey_source(store).sql(dialect='duckdb')} GROUP BY customer_id) c
    LEFT JOIN lead_scores ls ON ls.customer_id = c.customer_id
    """


def rule_members_sql(store: Store, expression: str) -> str:
    """SQL of the ``customer_id``s an (unsaved) rule selects."""
    rule = compile_rule(expression, store.config)
    return f"SELECT customer_id FROM ({customers_sql(store, rule)}) WHERE {rule.sql}"


def get_segment(store: Store, name: str) -> Segment:
    row = store.execute(
        "SELECT name, kind, expression, description, created_at, updated_at FROM segments WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        known = [r[0] for r in store.execute("SELECT name FROM segments").fetchall()]
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
