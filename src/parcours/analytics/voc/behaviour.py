"""Satisfaction and behaviour together: what promoters, passives and detractors go on to do.

A customer's NPS group is the one of their latest NPS answer in the filter (promoter
9-10, passive 7-8, detractor 0-6). Their purchases and touchpoints are read over the
whole store, so behaviour after the answer counts even past the filter's end.
"""

from __future__ import annotations

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.voc.answers import answers_query
from parcours.query import sql
from parcours.query.filter import Filter

#: NPS groups in report order.
GROUPS = ("promoter", "passive", "detractor")


def _latest_nps(store, filter: Filter | None) -> exp.Expression:
    """Each customer's NPS group by their latest NPS answer in ``filter``, and when they gave it."""
    return sql("""
        SELECT customer_id, answered_at,
               CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive' ELSE 'detractor' END AS nps_group
        FROM (
            SELECT customer_id, timestamp AS answered_at, score,
                   row_number() OVER (PARTITION BY customer_id ORDER BY timestamp DESC, message_id DESC) AS r
            FROM {answers} a WHERE metric = 'nps'
        ) x WHERE r = 1
    """, answers=answers_query(store, filter))


def satisfaction_behaviour(store, *, filter: Filter | None = None) -> pd.DataFrame:
    """Conversion and retention of promoters, passives and detractors.

    Columns: nps_group, customers, converted (% with at least one purchase), repeat_buyers
    (% with two or more), bought_after_answer (% with a purchase after their NPS answer),
    revenue_per_customer (sum of the journey's value property over customers).
    """
    config = store.config
    df = store.engine.df(sql("""
        WITH g AS ({latest}),
        p AS (
            SELECT customer_id, timestamp, TRY_CAST(json_extract_string(properties, {path}) AS DOUBLE) AS value
            FROM {events} e WHERE event = {purchase}
        ),
        per AS (
            SELECT g.customer_id, g.nps_group, count(p.customer_id) AS purchases,
                   sum(CASE WHEN p.timestamp > g.answered_at THEN 1 ELSE 0 END) AS after,
                   coalesce(sum(p.value), 0) AS revenue
            FROM g LEFT JOIN p ON p.customer_id = g.customer_id
            GROUP BY g.customer_id, g.nps_group
        )
        SELECT nps_group, count(*) AS customers,
               100.0 * avg(CASE WHEN purchases >= 1 THEN 1 ELSE 0 END) AS converted,
               100.0 * avg(CASE WHEN purchases >= 2 THEN 1 ELSE 0 END) AS repeat_buyers,
               100.0 * avg(CASE WHEN after >= 1 THEN 1 ELSE 0 END) AS bought_after_answer,
               avg(revenue) AS revenue_per_customer
        FROM per GROUP BY nps_group
    """, latest=_latest_nps(store, filter), path="$." + config.value_property, events=events(store),
        purchase=config.purchase_event))
    order = {g: i for i, g in enumerate(GROUPS)}
    return df.sort_values("nps_group", key=lambda s: s.map(order)).reset_index(drop=True)


def detractor_touchpoints(store, *, filter: Filter | None = None) -> pd.DataFrame:
    """The touchpoints most often seen in detractors' journeys before their answer.

    Columns: touchpoint, stage, detractors (how many detractors met it), detractor_share (% of
    detractors), others_share (% of promoters and passives who met it before their answer),
    lift (detractor_share / others_share; NULL when no other customer met it). Most seen first.
    """
    df = store.engine.df(sql("""
        WITH g AS ({latest}),
        seen AS (
            SELECT DISTINCT g.customer_id, g.nps_group, e.touchpoint, e.stage
            FROM g JOIN {events} e
              ON e.customer_id = g.customer_id AND e.timestamp <= g.answered_at AND e.touchpoint IS NOT NULL
        ),
        totals AS (
            SELECT sum(CASE WHEN nps_group = 'detractor' THEN 1 ELSE 0 END) AS detractors,
                   sum(CASE WHEN nps_group <> 'detractor' THEN 1 ELSE 0 END) AS others
            FROM g
        )
        SELECT touchpoint, min(stage) AS stage,
               sum(CASE WHEN nps_group = 'detractor' THEN 1 ELSE 0 END) AS detractors,
               100.0 * sum(CASE WHEN nps_group = 'detractor' THEN 1 ELSE 0 END) / max(totals.detractors)
                   AS detractor_share,
               100.0 * sum(CASE WHEN nps_group <> 'detractor' THEN 1 ELSE 0 END) / nullif(max(totals.others), 0)
                   AS others_share
        FROM seen CROSS JOIN totals
        GROUP BY touchpoint
        HAVING sum(CASE WHEN nps_group = 'detractor' THEN 1 ELSE 0 END) > 0
        ORDER BY detractors DESC, touchpoint
    """, latest=_latest_nps(store, filter), events=events(store)))
    df["detractors"] = df["detractors"].astype("int64")
    df["lift"] = (df["detractor_share"] / df["others_share"].where(df["others_share"] > 0)).astype(object)
    df["lift"] = df["lift"].where(df["lift"].notna(), None)
    return df
