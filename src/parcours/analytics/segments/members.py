"""Who is in a segment: the query of a rule's or a saved segment's ``customer_id``s.

Below ``filters`` (``Filter(segment=NAME)`` narrows by these members) and below
``segments`` (which saves, lists and breaks analyses down by segments), so that the
two do not import each other. It reads the whole journey relation, unfiltered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from parcours.analytics.names import UnknownName, closest
from parcours.analytics.segments.rules import Count, Rule, compile_rule, trait_column
from parcours.journey.materialized import journey_source
from parcours.query import Query, column, ident, sql
from parcours.query.journey import event_order
from parcours.query.match import field
from parcours.store.store import Store

#: the survey convention: ``survey_response`` events with properties ``metric`` and ``score``
SURVEY_EVENT = "survey_response"
#: what each kind of count in a rule counts
_COUNTED = {"events": "event", "touchpoints": "touchpoint"}
#: the first / latest value (see ``_first``)
_FIRST = {
    False: "arg_min({v}, CASE WHEN {v} IS NOT NULL THEN {order} END) AS {alias}",
    True: "arg_max({v}, CASE WHEN {v} IS NOT NULL THEN {order} END) AS {alias}",
}


@dataclass
class Segment:
    name: str
    kind: str  #: "rule" or "list"
    expression: str | None
    description: str
    created_at: datetime
    updated_at: datetime


def _count(c: Count) -> exp.Expression:
    what = sql("{counted} = {name}", counted=column(_COUNTED[c.kind]), name=c.name)
    if c.days is not None:
        what = sql("{what} AND timestamp >= (SELECT max(timestamp) FROM events) - INTERVAL {days} DAY",
                   what=what, days=int(c.days))
    return sql("sum(CASE WHEN {what} THEN 1 ELSE 0 END) AS {alias}", what=what, alias=ident(c.column))


def _first(value: exp.Expression, alias: str, latest: bool = False) -> exp.Expression:
    """The value of ``value`` on the customer's first (or latest) event where it is not null.

    Events at the same instant are ordered as recorded (``event_order``), so the answer does not
    depend on the order rows reach the aggregate (materialized table, live relation, another engine).
    """
    return sql(_FIRST[latest], v=value, order=exp.Tuple(expressions=event_order()), alias=ident(alias))


def customers_query(store: Store, rule: Rule | None = None, customers: Query | None = None) -> Query:
    """One row per customer with every field the rule language names (and the rule's extra counts).

    Days are counted back from the latest event in the store, so a rule means the
    same thing on historical data as on live data. ``customers`` (a query selecting customer
    ids) keeps those customers' rows only, the same as without it: their events are narrowed
    before they are grouped (the latest event in the store stays the store's).
    """
    config = store.config
    ref = sql("SELECT max(timestamp) FROM events")
    value = sql("TRY_CAST({v} AS DOUBLE)", v=field("props." + config.value_property))
    purchase = sql("event = {name}", name=config.purchase_event)
    survey = sql("event = {name}", name=SURVEY_EVENT)
    score = sql("TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE)")
    nps_score = sql("CASE WHEN {survey} AND json_extract_string(properties, '$.metric') = 'nps' THEN {score} END",
                    survey=survey, score=score)
    extra = [_count(c) for c in sorted(rule.counts, key=lambda c: c.column)] if rule else []
    for trait in sorted(rule.traits) if rule else []:
        value_text = sql("coalesce({prop}, json_extract_string(context, {path}))", prop=field("props." + trait),
                         path='$."traits"."' + trait.replace('"', '\\"') + '"')
        extra.append(_first(sql("CASE WHEN type = 'identify' THEN {v} END", v=value_text), trait_column(trait),
                            latest=True))
    columns = [
        column("customer_id"),
        _first(sql("CASE WHEN stage_index IS NOT NULL THEN channel END"), "channel"),
        _first(column("utm_campaign"), "campaign"),
        _first(column("utm_source"), "source"),
        _first(column("utm_medium"), "medium"),
        sql("max(stage_index) AS furthest_stage_index"),
        _first(column("stage_index"), "current_stage_index", latest=True),
        _first(nps_score, "nps_score", latest=True),
        sql("avg(CASE WHEN {survey} THEN {score} END) AS satisfaction", survey=survey, score=score),
        sql("coalesce(sum(CASE WHEN {purchase} THEN {value} END), 0) AS value", purchase=purchase, value=value),
        sql("sum(CASE WHEN {purchase} THEN 1 ELSE 0 END) AS purchases", purchase=purchase),
        sql("count(*) AS events"),
        sql("(epoch({ref}) - epoch(max(timestamp))) / 86400.0 AS recency_days", ref=ref),
        sql("(epoch({ref}) - epoch(min(timestamp))) / 86400.0 AS tenure_days", ref=ref),
        *extra,
    ]
    return sql(
        """
        SELECT c.*,
               CASE WHEN c.nps_score >= 9 THEN 'promoter' WHEN c.nps_score >= 7 THEN 'passive'
                    WHEN c.nps_score IS NOT NULL THEN 'detractor' END AS nps,
               ls.score AS lead_score
        FROM (SELECT {columns} FROM {journey} WHERE {mine} GROUP BY customer_id) c
        LEFT JOIN lead_scores ls ON ls.customer_id = c.customer_id
        """,
        columns=columns, journey=journey_source(store),
        mine=exp.true() if customers is None else sql("customer_id IN ({customers})", customers=customers),
    )


def rule_members_query(store: Store, expression: str, customers: Query | None = None) -> Query:
    """The ``customer_id``s an (unsaved) rule selects (among ``customers`` only, if given)."""
    rule = compile_rule(expression, store.config)
    return sql("SELECT customer_id FROM {customers} WHERE {rule}", customers=customers_query(store, rule, customers),
               rule=rule.condition)


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


def segment_members_query(store: Store, name: str, customers: Query | None = None) -> Query:
    """The ``customer_id``s of the saved segment ``name``: what ``Filter.segment`` uses.

    ``customers`` (a query selecting customer ids): those of them who are members."""
    seg = get_segment(store, name)
    if seg.kind == "list":
        mine = exp.true() if customers is None else sql("customer_id IN ({customers})", customers=customers)
        return sql("SELECT customer_id FROM segment_members WHERE segment = {name} AND {mine}", name=seg.name,
                   mine=mine)
    return rule_members_query(store, seg.expression, customers)

