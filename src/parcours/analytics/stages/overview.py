"""The journey at a glance: customers per stage, stage-to-stage conversion, top touchpoints.

This is what ``parcours summary`` prints and what the demo shows first.
"""

from __future__ import annotations

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.query import sql
from parcours.query.filter import Filter
from parcours.query.journey import event_order, identity_key, touchpoint_case
from parcours.store.store import Store


def stage_overview(store: Store, *, filter: Filter | None = None) -> pd.DataFrame:
    """One row per stage, in journey order.

    Columns: ``stage``, ``reached`` (customers whose furthest stage is at least this one),
    ``current`` (customers whose latest touchpoint is in this stage), ``conversion_from_previous``
    (reached / reached at the previous stage, 0..1), ``events``.
    """
    stages = [s.name for s in store.config.stages]
    df = store.engine.df(sql(
        """
        WITH j AS (SELECT * FROM {events} WHERE stage_index IS NOT NULL),
        per_customer AS (
            SELECT customer_id, max(stage_index) AS furthest,
                   arg_max(stage_index, {order}) AS current
            FROM j GROUP BY customer_id
        ),
        idx AS (SELECT unnest(range({n})) AS stage_index)
        SELECT idx.stage_index,
               (SELECT count(*) FROM per_customer p WHERE p.furthest >= idx.stage_index) AS reached,
               (SELECT count(*) FROM per_customer p WHERE p.current = idx.stage_index) AS current,
               (SELECT count(*) FROM j WHERE j.stage_index = idx.stage_index) AS events
        FROM idx ORDER BY idx.stage_index
        """,
        events=events(store, filter), order=exp.Tuple(expressions=event_order()), n=len(stages),
    ))
    df.insert(0, "stage", [stages[i] for i in df["stage_index"]])
    prev = df["reached"].shift(1)
    df["conversion_from_previous"] = (df["reached"] / prev).where(prev > 0)
    return df.drop(columns=["stage_index"])


def top_touchpoints(store: Store, per_stage: int = 3, *, filter: Filter | None = None) -> pd.DataFrame:
    """The most used touchpoints of each stage: ``stage``, ``touchpoint``, ``customers``, ``events``, ``rank``."""
    return store.engine.df(sql(
        """
        SELECT * FROM (
            SELECT stage, touchpoint, count(DISTINCT customer_id) AS customers, count(*) AS events,
                   row_number() OVER (PARTITION BY stage ORDER BY count(DISTINCT customer_id) DESC, touchpoint) AS rank,
                   min(stage_index) AS stage_index
            FROM {events} WHERE touchpoint IS NOT NULL GROUP BY stage, touchpoint
        ) WHERE rank <= {per_stage} ORDER BY stage_index, rank
        """,
        events=events(store, filter), per_stage=int(per_stage),
    )).drop(columns=["stage_index"])


def _not_ignored(store: Store) -> exp.Expression:
    """The event ``e`` is not one the journey ignores on purpose (``NOT FALSE`` when none are)."""
    return sql("e.event NOT IN ({ignored})", ignored=list(store.config.ignored_events))


def store_stats(store: Store) -> dict:
    """Counts a script can check: events, customers, quarantined and unmapped events, events by name.

    ``customers`` is parcours' one definition of a customer: a stitched identity (after
    identity stitching; an anonymous visitor who never identified is a customer of their
    own). ``customers_with_touchpoint`` counts those with at least one event the journey map
    maps to a touchpoint: the journey map's key figure (and its first stage's ``reached``).
    docs/demo.md gives the arithmetic between these and a funnel's first step.
    """
    engine = store.engine  # counts run where the analyses run (DuckDB or Spark)
    config = store.config
    n_events, customers = engine.arrow(sql(
        """SELECT count(*) AS events, count(DISTINCT coalesce(m.customer_id, {key})) AS customers
           FROM events e LEFT JOIN identity_map m ON m.identifier = {key}""",
        key=identity_key(),
    )).to_pylist()[0].values()
    with_touchpoint = engine.scalar(sql("SELECT count(DISTINCT customer_id) FROM {events} WHERE touchpoint IS NOT NULL",
                                        events=events(store)))
    quarantined = engine.scalar("SELECT count(*) FROM quarantine")
    unmapped = engine.scalar(sql("SELECT count(*) FROM events e WHERE {touchpoint} IS NULL AND {not_ignored}",
                                 touchpoint=touchpoint_case(config), not_ignored=_not_ignored(store)))
    by_name = {r["event"]: r["n"] for r in engine.arrow(
        "SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY 2 DESC, 1").to_pylist()}
    return {
        "events": n_events,
        "customers": customers,
        "customers_with_touchpoint": with_touchpoint or 0,
        "quarantined": quarantined,
        "unmapped_events": unmapped,
        "events_by_name": by_name,
    }


def unmapped_events(store: Store) -> pd.DataFrame:
    """Event names (and types) that match no touchpoint, with counts: what to add to the journey file."""
    config = store.config
    return store.engine.df(sql(
        """
        SELECT e.event, e.type, count(*) AS events, count(DISTINCT coalesce(e.user_id, e.anonymous_id)) AS ids,
               min(e.timestamp) AS first_seen, max(e.timestamp) AS last_seen
        FROM events e WHERE {touchpoint} IS NULL AND {not_ignored}
        GROUP BY 1, 2 ORDER BY events DESC, 1
        """,
        touchpoint=touchpoint_case(config), not_ignored=_not_ignored(store),
    ))
