"""Survey answers tied to the journey: each answer gets a touchpoint, a stage and a channel.

The touchpoint is the one named in the answer (``properties.touchpoint``) or, when none
is given, the customer's latest touchpoint at or before the answer. The inference is a
window function over the union of answers and touchpoint events (``last_value ... IGNORE
NULLS``), not an ASOF join, so the same SQL runs on Spark.
"""

from __future__ import annotations

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.query import Query, column, literal, sql
from parcours.query.filter import Filter

#: The event name of a survey answer (keep it stable).
SURVEY_EVENT = "survey_response"

#: Score scales (inclusive), the same as the importer's validation.
METRICS = ("nps", "csat", "ces")


def _lookup(value: exp.Expression, mapping: dict[str, str]) -> exp.Expression:
    if not mapping:
        return sql("CAST(NULL AS VARCHAR)")
    return exp.Case(this=value, ifs=[exp.If(this=literal(k), true=literal(v)) for k, v in mapping.items()])


def answers_query(store, filter: Filter | None = None, *, customers: Query | None = None) -> Query:
    """Every survey answer in ``filter``, one row each.

    Columns: message_id, customer_id, timestamp, metric, score (DOUBLE), comment, language,
    touchpoint, touchpoint_source (``given`` or ``inferred``, NULL when none could be found),
    stage, stage_index, channel.

    Touchpoint events are read without the filter: an answer given inside the date range
    is still tied to a touchpoint the customer met before the range started.

    ``customers`` (a query selecting customer ids) keeps the answers of those customers only,
    the same rows as without it: both the answers and the touchpoint events they are tied to are
    narrowed before the window sorts them (the live ``detractor`` webhook looks at the customers
    whose events just arrived, not at every answer of the store).
    """
    mine = exp.true() if customers is None else sql("customer_id IN ({customers})", customers=customers)
    config = store.config
    tp_stage = {t.name: t.stage for t in config.touchpoints}
    tp_channel = {t.name: t.channel for t in config.touchpoints}
    tp_index = {t.name: str(config.stage_index(t.stage)) for t in config.touchpoints}
    answers = sql(
        """
        SELECT message_id, customer_id, timestamp,
               json_extract_string(properties, '$.metric') AS metric,
               CAST(json_extract_string(properties, '$.score') AS DOUBLE) AS score,
               nullif(trim(json_extract_string(properties, '$.comment')), '') AS comment,
               lower(nullif(trim(json_extract_string(properties, '$.language')), '')) AS language,
               nullif(trim(json_extract_string(properties, '$.touchpoint')), '') AS given_touchpoint
        FROM {events} a
        WHERE event = {survey} AND {mine}
        """,
        events=events(store, filter), survey=SURVEY_EVENT, mine=mine,
    )
    # only the customers with an answer that names no touchpoint need their touchpoints: the
    # window below then sorts their events, not the whole journey's
    seen = sql(
        """
        SELECT customer_id, timestamp, touchpoint, channel
        FROM {journey} t
        WHERE touchpoint IS NOT NULL AND event <> {survey} AND {mine}
          AND customer_id IN (SELECT customer_id FROM answers WHERE given_touchpoint IS NULL)
        """,
        journey=events(store), survey=SURVEY_EVENT, mine=mine,
    )
    # answers sort after touchpoints at the same instant: "at or before" the answer
    merged = sql(
        """
        SELECT customer_id, timestamp, 1 AS is_answer, message_id, metric, score, comment, language,
               given_touchpoint, CAST(NULL AS VARCHAR) AS touchpoint, CAST(NULL AS VARCHAR) AS channel
        FROM answers x
        UNION ALL
        SELECT customer_id, timestamp, 0, NULL, NULL, NULL, NULL, NULL, NULL, touchpoint, channel
        FROM {seen} y
        """,
        seen=seen,
    )
    inferred = sql(
        """
        SELECT *,
               last_value(touchpoint IGNORE NULLS) OVER (
                   PARTITION BY customer_id ORDER BY timestamp, is_answer
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS prior_touchpoint,
               last_value(channel IGNORE NULLS) OVER (
                   PARTITION BY customer_id ORDER BY timestamp, is_answer
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS prior_channel
        FROM {merged} m
        """,
        merged=merged,
    )
    tp = sql("coalesce(given_touchpoint, prior_touchpoint)")
    return sql(
        """
        WITH answers AS ({answers})
        SELECT message_id, customer_id, timestamp, metric, score, comment, language,
               {tp} AS touchpoint,
               CASE WHEN given_touchpoint IS NOT NULL THEN 'given'
                    WHEN prior_touchpoint IS NOT NULL THEN 'inferred' END AS touchpoint_source,
               {stage} AS stage,
               CAST({stage_index} AS INTEGER) AS stage_index,
               CASE WHEN given_touchpoint IS NOT NULL THEN {given_channel}
                    ELSE prior_channel END AS channel
        FROM {inferred} i
        WHERE is_answer = 1
        """,
        answers=answers, tp=tp, stage=_lookup(tp, tp_stage), stage_index=_lookup(tp, tp_index),
        given_channel=_lookup(column("given_touchpoint"), tp_channel), inferred=inferred,
    )


def survey_answers(store, *, filter: Filter | None = None) -> pd.DataFrame:
    """Every survey answer in ``filter`` with its touchpoint, stage and channel (see ``answers_query``)."""
    return store.engine.df(answers_query(store, filter).order_by(column("timestamp"), column("message_id"), copy=False))
