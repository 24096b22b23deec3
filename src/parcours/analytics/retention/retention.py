"""Who comes back: cohort retention, the retention curve, repeat purchases and churn risk.

A customer's cohort is the calendar period (day, ISO week starting Monday, month; UTC) of
their first ``cohort_event`` (any event by default; the purchase event for "first
purchase" cohorts). They are *retained in period k* when they did ``return_event`` in
the k-th calendar period after their cohort's own, at or after their cohort moment:
period 0 is the cohort's own period, so with the same event on both sides it is 100 %.
Every cohort gets a row for each period up to the last one with data, retained or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.names import check_matcher, check_property
from parcours.errors import ParcoursError
from parcours.matcher import COLUMN_FIELDS, EventMatcher, known_field
from parcours.query import Query, sql
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import field, step
from parcours.store.store import Store

PERIODS = ("day", "week", "month")
Step = str | dict | EventMatcher | None


def _breakdown(name: str | None) -> exp.Expression:
    if name is None:
        return sql("CAST(NULL AS VARCHAR)")
    try:
        return sql("CAST({v} AS VARCHAR)", v=field(known_field(name)))
    except ValueError as e:
        raise ParcoursError(f"`breakdown` {name!r}: unknown field; {str(e).split(': ', 1)[-1]}") from None


def _order_key() -> exp.Expression:
    """A customer's events in order, as one value to ``arg_min``/``arg_max`` by."""
    return exp.Tuple(expressions=event_order())


def _journey(store: Store, filter: Filter | None, fields: Sequence[str] = ()) -> Query:
    """The events in scope, without those the journey ignores on purpose."""
    return sql("SELECT * FROM {events} WHERE event NOT IN ({ignored})",
               events=events(store, filter, list(fields)), ignored=list(store.config.ignored_events))


def _cohorts(store: Store, cohort_event: Step, period: str, breakdown: str | None, filter: Filter | None) -> dict:
    """The ``j`` (events) and ``c`` (per customer: ``first_ts``, the cohort moment, ``cohort``, its
    period start, ``grp``, the breakdown value) queries, to bind as ``WITH j AS ({j}), c AS ({c})``."""
    if period not in PERIODS:
        raise ParcoursError(f"`period` {period!r}: use one of {', '.join(PERIODS)}")
    cohorts = sql(
        """
        SELECT customer_id, min(timestamp) AS first_ts, arg_min({grp}, {order}) AS grp,
               CAST(date_trunc({unit}, min(timestamp)) AS DATE) AS cohort
        FROM j WHERE {cohort_event} GROUP BY customer_id
        """,
        grp=_breakdown(breakdown), order=_order_key(), unit=period,
        cohort_event=step(cohort_event, "`cohort_event`", exp.true()),
    )
    return {"j": _journey(store, filter, [breakdown] if breakdown else []), "c": cohorts}


def retention(
    store: Store,
    cohort_event: Step = None,
    return_event: Step = None,
    period: str = "week",
    breakdown: str | None = None,
    *,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """The cohort table: one row per (cohort[, group], period).

    Columns: ``cohort`` (date the cohort's period starts), ``period`` (0, 1, 2, ...),
    ``size`` (customers in the cohort), ``retained`` (of them, customers with a return event
    in that period), ``rate`` (retained / size, 0..1); with ``breakdown`` (a column such as
    ``channel`` or ``props.NAME``, read on the cohort event) a ``group`` column first.
    """
    check_matcher(store, "`return_event`", return_event, check_matcher(store, "`cohort_event`", cohort_event))
    if breakdown is not None and (breakdown in COLUMN_FIELDS or breakdown.startswith(("props.", "properties."))):
        check_property(store, "`breakdown`", breakdown, COLUMN_FIELDS)
    df = store.engine.df(sql(
        """
        WITH j AS ({j}), c AS ({c}),
        last AS (SELECT CAST(date_trunc({unit}, max(timestamp)) AS DATE) AS last_period FROM j),
        sizes AS (SELECT cohort, grp, count(*) AS size FROM c GROUP BY cohort, grp),
        grid AS (
            SELECT sizes.*, unnest(range(0, date_diff({unit}, sizes.cohort, last.last_period) + 1)) AS period
            FROM sizes, last
        ),
        back AS (
            SELECT c.cohort, c.grp,
                   date_diff({unit}, c.cohort, CAST(date_trunc({unit}, j.timestamp) AS DATE)) AS period,
                   count(DISTINCT c.customer_id) AS retained
            FROM c JOIN j ON j.customer_id = c.customer_id
            WHERE j.timestamp >= c.first_ts AND {return_event}
            GROUP BY 1, 2, 3
        )
        SELECT grid.grp AS "group", grid.cohort, grid.period, grid.size,
               coalesce(back.retained, 0) AS retained,
               coalesce(back.retained, 0) / grid.size AS rate
        FROM grid LEFT JOIN back ON back.cohort = grid.cohort AND back.period = grid.period
             AND back.grp IS NOT DISTINCT FROM grid.grp
        ORDER BY grid.grp NULLS FIRST, grid.cohort, grid.period
        """,
        **_cohorts(store, cohort_event, period, breakdown, filter), unit=period,
        return_event=step(return_event, "`return_event`", exp.true()),
    ))
    df["cohort"] = pd.to_datetime(df["cohort"]).dt.date
    return df if breakdown else df.drop(columns=["group"])


def retention_curve(
    store: Store,
    cohort_event: Step = None,
    return_event: Step = None,
    period: str = "week",
    breakdown: str | None = None,
    *,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """The retention curve: per period, all cohorts that have reached it, pooled.

    Columns: [``group``,] ``period``, ``cohorts``, ``size`` (customers observable that far),
    ``retained``, ``rate`` (0..1).
    """
    table = retention(store, cohort_event, return_event, period, breakdown, filter=filter)
    keys = (["group"] if breakdown else []) + ["period"]
    curve = table.groupby(keys, dropna=False).agg(
        cohorts=("cohort", "count"), size=("size", "sum"), retained=("retained", "sum")
    ).reset_index()
    curve["rate"] = curve["retained"] / curve["size"]
    return curve


def repeat_purchase_rate(store: Store, breakdown: str | None = None, *, filter: Filter | None = None) -> pd.DataFrame:
    """Customers who bought more than once, among those who bought (the journey's purchase event).

    Columns: [``group`` (breakdown on the first purchase),] ``buyers``, ``repeat_buyers``, ``rate``,
    ``purchases``.
    """
    df = store.engine.df(sql(
        """
        WITH per AS (
            SELECT customer_id, count(*) AS n, arg_min({grp}, {order}) AS grp
            FROM {events} WHERE event = {purchase}
            GROUP BY customer_id
        )
        SELECT grp AS "group", count(*) AS buyers, count(*) FILTER (WHERE n > 1) AS repeat_buyers,
               count(*) FILTER (WHERE n > 1) / count(*) AS rate, sum(n) AS purchases
        FROM per GROUP BY grp ORDER BY buyers DESC, grp
        """,
        grp=_breakdown(breakdown), order=_order_key(), events=events(store, filter, [breakdown] if breakdown else []),
        purchase=store.config.purchase_event,
    ))
    if breakdown:
        return df
    if df.empty:
        return pd.DataFrame([{"buyers": 0, "repeat_buyers": 0, "rate": None, "purchases": 0}])
    return df.drop(columns=["group"])


def churn_risk(
    store: Store, days: int = 30, min_events: int = 2, as_of: datetime | None = None, *, filter: Filter | None = None,
) -> pd.DataFrame:
    """Customers who were active (at least ``min_events`` events) and then silent for ``days`` or more.

    ``as_of`` defaults to the latest event in scope. Columns: ``customer_id``, ``first_seen``,
    ``last_seen``, ``events``, ``days_inactive``, ``last_stage`` (stage of their last mapped
    event); longest silence first.
    """
    if days < 1:
        raise ParcoursError(f"`days` {days}: must be at least 1")
    if min_events < 1:
        raise ParcoursError(f"`min_events` {min_events}: must be at least 1")
    return store.engine.df(sql(
        """
        WITH j AS ({j}),
        per AS (
            SELECT customer_id, min(timestamp) AS first_seen, max(timestamp) AS last_seen, count(*) AS events,
                   arg_max(stage, {order}) FILTER (WHERE stage IS NOT NULL) AS last_stage
            FROM j GROUP BY customer_id
        )
        SELECT customer_id, first_seen, last_seen, events,
               (epoch({ref}) - epoch(last_seen)) / 86400.0 AS days_inactive, last_stage
        FROM per
        WHERE events >= {min_events} AND last_seen <= {ref} - INTERVAL {days} DAY
        ORDER BY days_inactive DESC, customer_id
        """,
        j=_journey(store, filter), order=_order_key(), min_events=int(min_events), days=int(days),
        ref=as_of if as_of else sql("SELECT max(timestamp) FROM j"),
    ))


def retained_customers(
    store: Store,
    cohort: str | datetime,
    period_index: int | None = None,
    cohort_event: Step = None,
    return_event: Step = None,
    period: str = "week",
    *,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """The customers of one cell of ``retention`` (same options): one ``customer_id`` column, sorted.

    ``cohort`` is the cell's cohort date (its period's start); with ``period_index`` k, the
    cohort's customers retained in period k (as many as the cell's ``retained``), without it the
    whole cohort (its ``size``).
    """
    check_matcher(store, "`return_event`", return_event, check_matcher(store, "`cohort_event`", cohort_event))
    try:
        day = pd.Timestamp(cohort).date()
    except ValueError:
        raise ParcoursError(f"`cohort` {cohort!r}: not a date (write YYYY-MM-DD, the cohort's first day)") from None
    if period_index is not None and period_index < 0:
        raise ParcoursError(f"`period_index` {period_index}: must be 0 or more (0 = the cohort's own period)")
    if period_index is None:
        query = sql("SELECT customer_id FROM c WHERE c.cohort = {day}", day=day)
    else:
        query = sql(
            """
            SELECT DISTINCT c.customer_id FROM c JOIN j ON j.customer_id = c.customer_id
            WHERE c.cohort = {day} AND j.timestamp >= c.first_ts AND {return_event}
              AND date_diff({unit}, c.cohort, CAST(date_trunc({unit}, j.timestamp) AS DATE)) = {k}
            """,
            day=day, return_event=step(return_event, "`return_event`", exp.true()), unit=period, k=int(period_index),
        )
    return store.engine.df(sql(
        "WITH j AS ({j}), c AS ({c}) SELECT customer_id FROM {query} x ORDER BY customer_id",
        **_cohorts(store, cohort_event, period, None, filter), query=query,
    ))
