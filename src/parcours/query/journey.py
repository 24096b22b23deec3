"""The journey relation as a query tree: every event with its customer, touchpoint and stage.

All analyses read this relation (through ``parcours.analytics.filters.events``):

| column | meaning |
|---|---|
| message_id, type, event, timestamp, received_at | the stored event |
| arrival_seq | the order the event was recorded in (file row, collector arrival) |
| user_id, anonymous_id, properties, context, source | the stored event |
| utm_source, utm_medium, utm_campaign | the stored event |
| event_channel | the event's own channel |
| customer_id | the stitched customer (identity map), the event's own id if not stitched yet |
| touchpoint | the first touchpoint whose match rule the event satisfies, NULL if none |
| stage, stage_index | the touchpoint's stage and its position (0-based); NULL if unmapped |
| channel | the event's channel, or its touchpoint's channel when the event has none |

A customer's events are ordered by ``EVENT_ORDER_COLUMNS`` everywhere: by time, and events
with the same timestamp in the order they were recorded (``arrival_seq``: the row order of the
file, the order of the trace in XES, the collector's order of arrival), as pm4py,
retentioneering and pandas keep them. ``message_id`` only orders events that have no arrival
sequence. Bind ``event_order()`` where a query orders events: ``ORDER BY customer_id, {order}``.
"""

from __future__ import annotations

from sqlglot import exp

from parcours.config import JourneyConfig
from parcours.query.constants import literal
from parcours.query.match import matcher
from parcours.query.template import column, sql, table

#: The order of a customer's events, in every analysis (the one tie rule; see the module docstring).
EVENT_ORDER_COLUMNS = ("timestamp", "arrival_seq", "message_id")


def event_order(alias: str | None = None) -> list[exp.Column]:
    """``EVENT_ORDER_COLUMNS`` as columns of ``alias``, to bind in an ORDER BY (``{order}`` or ``{order} DESC``)."""
    return [column(c, alias) for c in EVENT_ORDER_COLUMNS]


def identity_key(alias: str | None = "e") -> exp.Expression:
    """How an event names its customer before stitching: the user id when known."""
    return sql("coalesce({user}, {anonymous})", user=column("user_id", alias), anonymous=column("anonymous_id", alias))


def touchpoint_case(config: JourneyConfig, alias: str | None = "e") -> exp.Expression:
    """The first touchpoint whose rule the event ``alias`` matches (NULL when none)."""
    if not config.touchpoints:
        return sql("CAST(NULL AS VARCHAR)")
    return exp.Case(ifs=[exp.If(this=matcher(t.match, alias), true=exp.Literal.string(t.name))
                         for t in config.touchpoints])


def _lookup(value: exp.Expression, mapping: dict[str, object], cast: str) -> exp.Expression:
    case = (exp.Case(this=value, ifs=[exp.If(this=literal(k), true=literal(v)) for k, v in mapping.items()])
            if mapping else exp.null())
    return exp.cast(case, exp.DataType.build(cast))


def journey(config: JourneyConfig, events: exp.Expression | None = None) -> exp.Select:
    """The journey relation over the ``events`` and ``identity_map`` tables.

    ``events`` may narrow the events read (a query over ``events``: the incremental refresh of
    ``parcours.journey.materialized`` reads the events of a few customers).
    """
    touchpoint = column("touchpoint", "j")
    return sql(
        """
        SELECT j.*, {stage} AS stage, {stage_index} AS stage_index,
               coalesce(j.event_channel, {channel}) AS channel
        FROM (
            SELECT e.message_id, e.type, e.event, e.timestamp, e.arrival_seq, e.received_at,
                   e.user_id, e.anonymous_id, e.utm_source, e.utm_medium, e.utm_campaign,
                   e.properties, e.context, e.source, e.channel AS event_channel,
                   coalesce(m.customer_id, {key}) AS customer_id,
                   {touchpoint_case} AS touchpoint
            FROM {events} e
            LEFT JOIN identity_map m ON m.identifier = {key}
        ) j
        """,
        stage=_lookup(touchpoint, {t.name: t.stage for t in config.touchpoints}, "VARCHAR"),
        stage_index=_lookup(touchpoint, {t.name: config.stage_index(t.stage) for t in config.touchpoints}, "INTEGER"),
        channel=_lookup(touchpoint, {t.name: t.channel for t in config.touchpoints}, "VARCHAR"),
        key=identity_key(),
        touchpoint_case=touchpoint_case(config),
        events=table("events") if events is None else events,
    )
