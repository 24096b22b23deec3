"""The journey relation: every event with its customer, touchpoint and stage.

All analyses read this relation (as SQL text, so that any engine can run it):

| column | meaning |
|---|---|
| message_id, type, event, timestamp, received_at | the stored event |
| arrival_seq | the order the event was recorded in (file row, collector arrival) |
| user_id, anonymous_id, properties, context, source | the stored event |
| utm_source, utm_medium, utm_campaign | the stored event |
| customer_id | the stitched customer (identity map), the event's own id if not stitched yet |
| touchpoint | the first touchpoint whose match rule the event satisfies, NULL if none |
| stage, stage_index | the touchpoint's stage and its position (0-based); NULL if unmapped |
| channel | the event's channel, or its touchpoint's channel when the event has none |

A customer's events are ordered by ``EVENT_ORDER`` everywhere: by time, and events with the
same timestamp in the order they were recorded (``arrival_seq``: the row order of the file,
the order of the trace in XES, the collector's order of arrival), as pm4py, retentioneering
and pandas keep them. ``message_id`` only orders events that have no arrival sequence.
"""

from __future__ import annotations

from parcours.config import JourneyConfig
from parcours.matcher import matcher_sql, quote

#: The order of a customer's events, in every analysis (the one tie rule; see the module docstring).
EVENT_ORDER_COLUMNS = ("timestamp", "arrival_seq", "message_id")
EVENT_ORDER = ", ".join(EVENT_ORDER_COLUMNS)


def event_order(alias: str = "", desc: bool = False) -> str:
    """``EVENT_ORDER`` with its columns qualified by ``alias`` (and descending when ``desc``)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{c}{' DESC' if desc else ''}" for c in EVENT_ORDER_COLUMNS)


#: How an event names its customer before stitching: the user id when known.
IDENTITY_KEY_SQL = "coalesce(e.user_id, e.anonymous_id)"


def touchpoint_case_sql(config: JourneyConfig, alias: str = "e") -> str:
    if not config.touchpoints:
        return "CAST(NULL AS VARCHAR)"
    whens = " ".join(
        f"WHEN {matcher_sql(t.match, alias)} THEN {quote(t.name)}" for t in config.touchpoints
    )
    return f"CASE {whens} END"


def _lookup_case(column: str, mapping: dict[str, object], cast: str) -> str:
    if not mapping:
        return f"CAST(NULL AS {cast})"
    whens = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in mapping.items())
    return f"CAST(CASE {column} {whens} END AS {cast})"


def journey_sql(config: JourneyConfig, events: str = "events") -> str:
    """SQL (DuckDB dialect) of the journey relation over the ``events`` and ``identity_map`` tables.

    ``events`` may narrow the events read (a bracketed query over ``events``: the incremental
    refresh of ``parcours.journey.materialized`` reads the events of a few customers).
    """
    tp_stage = {t.name: t.stage for t in config.touchpoints}
    tp_channel = {t.name: t.channel for t in config.touchpoints}
    stage_index = {t.name: config.stage_index(t.stage) for t in config.touchpoints}
    return f"""
    SELECT j.*,
           {_lookup_case("j.touchpoint", tp_stage, "VARCHAR")} AS stage,
           {_lookup_case("j.touchpoint", stage_index, "INTEGER")} AS stage_index,
           coalesce(j.event_channel, {_lookup_case("j.touchpoint", tp_channel, "VARCHAR")}) AS channel
    FROM (
        SELECT e.message_id, e.type, e.event, e.timestamp, e.arrival_seq, e.received_at,
               e.user_id, e.anonymous_id, e.utm_source, e.utm_medium, e.utm_campaign,
               e.properties, e.context, e.source, e.channel AS event_channel,
               coalesce(m.customer_id, {IDENTITY_KEY_SQL}) AS customer_id,
               {touchpoint_case_sql(config)} AS touchpoint
        FROM {events} e
        LEFT JOIN identity_map m ON m.identifier = {IDENTITY_KEY_SQL}
    ) j
    """
