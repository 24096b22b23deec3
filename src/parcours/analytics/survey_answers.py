"""Survey answers tied to the journey: each answer gets a touchpoint, a stage and a channel.

The touchpoint is the one named in the answer (``properties.touchpoint``) or, when none
is given, the customer's latest touchpoint at or before the answer. The inference is a
window function over the union of answers and touchpoint events (``last_value ... IGNORE
NULLS``), not an ASOF join, so the same SQL runs on Spark.
"""

from __future__ import annotations

import pandas as pd

from parcours.analytics.filters import events_sql
from parcours.matcher import quote
from parcours.query.filter import Filter

#: The event name of a survey answer (keep it stable).
SURVEY_EVENT = "survey_response"

#: Score scales (inclusive), the same as the importer's validation.
METRICS = ("nps", "csat", "ces")


def _lookup(column: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return "CAST(NULL AS VARCHAR)"
    whens = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


def answers_sql(store, filter: Filter | None = None) -> str:
    """SQL of every survey answer in ``filter``, one row each.

    Columns: message_id, customer_id, timestamp, metric, score (DOUBLE), comment, language,
    touchpoint, touchpoint_source (``given`` or ``inferred``, NULL when none could be found),
    stage, stage_index, channel.

    Touchpoint events are read without the filter: an answer given inside the date range
    is still tied to a touchpoint the customer met before the range started.
    """
    config = store.config
    tp_stage = {t.name: t.stage for t in config.touchpoints}
    tp_channel = {t.name: t.channel for t in config.touchpoints}
    tp_index = {t.name: str(config.stage_index(t.stage)) for t in config.touchpoints}
    props = "properties"
    answers = f"""
        SELECT message_id, customer_id, timestamp,
               json_extract_string({props}, '$.metric') AS metric,
               CAST(json_extract_string({props}, '$.score') AS DOUBLE) AS score,
               nullif(trim(json_extract_string({props}, '$.comment')), '') AS comment,
               lower(nullif(trim(json_extract_string({props}, '$.language')), '')) AS language,
               nullif(trim(json_extract_string({props}, '$.touchpoint')), '') AS given_touchpoint
        FROM ({events_sql(store, filter)}) a
        WHERE event = {quote(SURVEY_EVENT)}
    """
    # only the customers with an answer that names no touchpoint need their touchpoints: the
    # window below then sorts their events, not the whole journey's
    seen = f"""
        SELECT customer_id, timestamp, touchpoint, channel
        FROM ({events_sql(store)}) t
        WHERE touchpoint IS NOT NULL AND event <> {quote(SURVEY_EVENT)}
          AND customer_id IN (SELECT customer_id FROM answers WHERE given_touchpoint IS NULL)
    """
    # answers sort after touchpoints at the same instant: "at or before" the answer
    merged = f"""
        SELECT customer_id, timestamp, 1 AS is_answer, message_id, metric, score, comment, language,
               given_touchpoint, CAST(NULL AS VARCHAR) AS touchpoint, CAST(NULL AS VARCHAR) AS channel
        FROM answers x
        UNION ALL
        SELECT customer_id, timestamp, 0, NULL, NULL, NULL, NULL, NULL, NULL, touchpoint, channel
        FROM ({seen}) y
    """
    window = "PARTITION BY customer_id ORDER BY timestamp, is_answer ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    inferred = f"""
        SELECT *,
               last_value(touchpoint IGNORE NULLS) OVER ({window}) AS prior_touchpoint,
               last_value(channel IGNORE NULLS) OVER ({window}) AS prior_channel
        FROM ({merged}) m
    """
    tp = "coalesce(given_touchpoint, prior_touchpoint)"
    return f"""
        WITH answers AS ({answers})
        SELECT message_id, customer_id, timestamp, metric, score, comment, language,
               {tp} AS touchpoint,
               CASE WHEN given_touchpoint IS NOT NULL THEN 'given'
                    WHEN prior_touchpoint IS NOT NULL THEN 'inferred' END AS touchpoint_source,
               {_lookup(tp, tp_stage)} AS stage,
               CAST({_lookup(tp, tp_index)} AS INTEGER) AS stage_index,
               CASE WHEN given_touchpoint IS NOT NULL THEN {_lookup("given_touchpoint", tp_channel)}
                    ELSE prior_channel END AS channel
        FROM ({inferred}) i
        WHERE is_answer = 1
    """


def survey_answers(store, *, filter: Filter | None = None) -> pd.DataFrame:
    """Every survey answer in ``filter`` with its touchpoint, stage and channel (see ``answers_sql``)."""
    return store.engine.df(answers_sql(store, filter) + " ORDER BY timestamp, message_id")
