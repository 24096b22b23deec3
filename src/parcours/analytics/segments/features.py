"""Per-customer behaviour features, computed in SQL as of a moment.

Personas and lead scoring share this one pipeline. Each row describes a customer
using only the events *before* its moment (``timestamp < moment``), which is what
lets lead scoring train on past moments without seeing the future.

Columns (besides ``customer_id`` and ``moment``):

| column | meaning |
|---|---|
| ``events``, ``touchpoint_events``, ``distinct_touchpoints`` | counts before the moment |
| ``active_days``, ``sessions`` | distinct days; sessions split by 30 minutes of inactivity |
| ``events_7d`` | events in the 7 days before the moment |
| ``recency_days``, ``tenure_days`` | days from the last / first event to the moment |
| ``furthest_stage`` | furthest stage reached, 0-based journey order (-1: none) |
| ``purchases``, ``value`` | purchase events and their summed value property |
| ``time_to_purchase_days`` | first event to first purchase (NULL if no purchase) |
| ``satisfaction`` | mean score of survey answers (NULL if none) |
| ``stage:NAME``, ``touchpoint:NAME``, ``channel:NAME`` | events per stage, touchpoint and channel |
| ``sum:PROP``, ``max:PROP`` | for each requested numeric property |
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.segments.members import SURVEY_EVENT
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import field
from parcours.query.template import Query, column, ident, sql
from parcours.store.store import Store

SESSION_GAP_SECONDS = 30 * 60


def _count_by(name: str, values: Sequence[str], prefix: str) -> list[exp.Expression]:
    return [sql("sum(CASE WHEN {column} = {value} THEN 1 ELSE 0 END) AS {name}",
                column=column(name), value=v, name=ident(prefix + v)) for v in values]


def feature_columns(store: Store, properties: Sequence[str] = ()) -> list[str]:
    """The feature names ``features_query`` produces for this store's journey, in order."""
    config = store.config
    channels = sorted({t.channel for t in config.touchpoints})
    return [
        "events", "touchpoint_events", "distinct_touchpoints", "active_days", "sessions", "events_7d",
        "recency_days", "tenure_days", "furthest_stage", "purchases", "value", "time_to_purchase_days",
        "satisfaction",
        *(f"stage:{s.name}" for s in config.stages),
        *(f"touchpoint:{t.name}" for t in config.touchpoints),
        *(f"channel:{c}" for c in channels),
        *(f"{agg}:{p}" for p in properties for agg in ("sum", "max")),
    ]


def _number(prop: str) -> exp.Expression:
    """A property's value as a number (NULL when absent or not a number)."""
    return sql("TRY_CAST({value} AS DOUBLE)", value=field("props." + prop))


def features_query(store: Store, moments: Query | None = None, properties: Sequence[str] = (),
                   filter: Filter | None = None) -> exp.Select:
    """The query of one feature row per (customer, moment).

    ``moments`` yields ``customer_id, moment`` pairs; without it every customer with an
    event in ``filter`` is described as of just after the latest event in the store (all their
    behaviour: the filter picks the customers, not the events that describe them).
    """
    config = store.config
    if moments is None:
        moments = sql("SELECT DISTINCT customer_id, (SELECT max(timestamp) FROM events) + INTERVAL 1 SECOND AS moment "
                      "FROM {events}", events=events(store, filter))
    channels = sorted({t.channel for t in config.touchpoints})
    prop_cols = []
    for p in properties:
        prop_cols += [sql("coalesce(sum({num}), 0) AS {name}", num=_number(p), name=ident("sum:" + p)),
                      sql("coalesce(max({num}), 0) AS {name}", num=_number(p), name=ident("max:" + p))]
    query = sql(
        """
        WITH m AS ({moments}),
        before AS (
            SELECT j.*, m.moment FROM {journey} j JOIN m ON m.customer_id = j.customer_id
            WHERE j.timestamp < m.moment
        ),
        marked AS (
            SELECT *, CASE WHEN lag(timestamp) OVER w IS NULL
                             OR epoch(timestamp) - epoch(lag(timestamp) OVER w) > {gap}
                           THEN 1 ELSE 0 END AS new_session
            FROM before
            WINDOW w AS (PARTITION BY customer_id, moment ORDER BY {order})
        )
        SELECT customer_id, moment,
               count(*) AS events,
               sum(CASE WHEN touchpoint IS NOT NULL THEN 1 ELSE 0 END) AS touchpoint_events,
               count(DISTINCT touchpoint) AS distinct_touchpoints,
               count(DISTINCT CAST(timestamp AS DATE)) AS active_days,
               sum(new_session) AS sessions,
               sum(CASE WHEN timestamp >= moment - INTERVAL 7 DAY THEN 1 ELSE 0 END) AS events_7d,
               (epoch(moment) - epoch(max(timestamp))) / 86400.0 AS recency_days,
               (epoch(moment) - epoch(min(timestamp))) / 86400.0 AS tenure_days,
               coalesce(max(stage_index), -1) AS furthest_stage,
               sum(CASE WHEN event = {purchase} THEN 1 ELSE 0 END) AS purchases,
               coalesce(sum(CASE WHEN event = {purchase} THEN {value} END), 0) AS value,
               (epoch(min(CASE WHEN event = {purchase} THEN timestamp END)) - epoch(min(timestamp))) / 86400.0
                   AS time_to_purchase_days,
               avg(CASE WHEN event = {survey} THEN TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE) END)
                   AS satisfaction
        FROM marked GROUP BY customer_id, moment
        """,
        moments=moments, journey=events(store), gap=SESSION_GAP_SECONDS, order=event_order(),
        purchase=config.purchase_event, value=_number(config.value_property), survey=SURVEY_EVENT,
    )
    return query.select(
        *_count_by("stage", [s.name for s in config.stages], "stage:"),
        *_count_by("touchpoint", [t.name for t in config.touchpoints], "touchpoint:"),
        *_count_by("channel", channels, "channel:"),
        *prop_cols,
        copy=False,
    )
