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

from parcours.analytics.filters import events_sql
from parcours.analytics.segment_members import SURVEY_EVENT
from parcours.journey.relation import EVENT_ORDER
from parcours.matcher import json_path, quote
from parcours.query.filter import Filter
from parcours.store.store import Store

SESSION_GAP_SECONDS = 30 * 60


def ident(name: str) -> str:
    """A quoted SQL identifier (feature names carry ``:`` and user-chosen names)."""
    return '"' + name.replace('"', '""') + '"'


def _count_by(column: str, values: Sequence[str], prefix: str) -> list[str]:
    return [f"sum(CASE WHEN {column} = {quote(v)} THEN 1 ELSE 0 END) AS {ident(prefix + v)}" for v in values]


def feature_columns(store: Store, properties: Sequence[str] = ()) -> list[str]:
    """The feature names ``features_sql`` produces for this store's journey, in order."""
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


def features_sql(store: Store, moments_sql: str | None = None, properties: Sequence[str] = (),
                 filter: Filter | None = None) -> str:
    """SQL of one feature row per (customer, moment).

    ``moments_sql`` yields ``customer_id, moment`` pairs; without it every customer with an
    event in ``filter`` is described as of just after the latest event in the store (all their
    behaviour: the filter picks the customers, not the events that describe them).
    """
    config = store.config
    if moments_sql is None:
        moments_sql = (
            "SELECT DISTINCT customer_id, (SELECT max(timestamp) FROM events) + INTERVAL 1 SECOND AS moment "
            f"FROM ({events_sql(store, filter)})"
        )
    channels = sorted({t.channel for t in config.touchpoints})
    value = f"TRY_CAST(json_extract_string(properties, {json_path(config.value_property)}) AS DOUBLE)"
    purchase = f"event = {quote(config.purchase_event)}"
    score = "TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE)"
    first_purchase = f"min(CASE WHEN {purchase} THEN timestamp END)"
    prop_cols = []
    for p in properties:
        num = f"TRY_CAST(json_extract_string(properties, {json_path(p)}) AS DOUBLE)"
        prop_cols += [f"coalesce(sum({num}), 0) AS {ident('sum:' + p)}", f"coalesce(max({num}), 0) AS {ident('max:' + p)}"]
    columns = [
        "customer_id", "moment",
        "count(*) AS events",
        "sum(CASE WHEN touchpoint IS NOT NULL THEN 1 ELSE 0 END) AS touchpoint_events",
        "count(DISTINCT touchpoint) AS distinct_touchpoints",
        "count(DISTINCT CAST(timestamp AS DATE)) AS active_days",
        "sum(new_session) AS sessions",
        "sum(CASE WHEN timestamp >= moment - INTERVAL 7 DAY THEN 1 ELSE 0 END) AS events_7d",
        "(epoch(moment) - epoch(max(timestamp))) / 86400.0 AS recency_days",
        "(epoch(moment) - epoch(min(timestamp))) / 86400.0 AS tenure_days",
        "coalesce(max(stage_index), -1) AS furthest_stage",
        f"sum(CASE WHEN {purchase} THEN 1 ELSE 0 END) AS purchases",
        f"coalesce(sum(CASE WHEN {purchase} THEN {value} END), 0) AS value",
        f"(epoch({first_purchase}) - epoch(min(timestamp))) / 86400.0 AS time_to_purchase_days",
        f"avg(CASE WHEN event = {quote(SURVEY_EVENT)} THEN {score} END) AS satisfaction",
        *_count_by("stage", [s.name for s in config.stages], "stage:"),
        *_count_by("touchpoint", [t.name for t in config.touchpoints], "touchpoint:"),
        *_count_by("channel", channels, "channel:"),
        *prop_cols,
    ]
    return f"""
    WITH m AS ({moments_sql}),
    before AS (
        SELECT j.*, m.moment FROM ({events_sql(store)}) j JOIN m ON m.customer_id = j.customer_id
        WHERE j.timestamp < m.moment
    ),
    marked AS (
        SELECT *, CASE WHEN lag(timestamp) OVER w IS NULL
                         OR epoch(timestamp) - epoch(lag(timestamp) OVER w) > {SESSION_GAP_SECONDS}
                       THEN 1 ELSE 0 END AS new_session
        FROM before
        WINDOW w AS (PARTITION BY customer_id, moment ORDER BY {EVENT_ORDER})
    )
    SELECT {", ".join(columns)} FROM marked GROUP BY customer_id, moment
    """
