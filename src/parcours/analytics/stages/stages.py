"""Stage progression: where customers are, how far they got, how long each stage takes, who went back.

The counts per stage (reached, current, conversion) come from ``stage_overview``; this module
adds what a progression view needs on top of them.

**Time in a stage.** For a customer who entered stage S (their first event in S at time
``entered``), the time spent in S runs from ``entered`` to their first event in a *later*
stage at or after ``entered``; a customer who never moved on is counted up to their last
event in scope (their stay is still open, so it is a lower bound; ``still_in`` says how many
such stays there are). Going back to S later does not start a second stay: the first entry
is what a journey map means by "entered the stage".

**Going back.** A customer goes back when an event's stage comes before the furthest stage
they had reached so far (in event order: timestamp, then message id).
"""

from __future__ import annotations

import pandas as pd

from parcours.analytics.filters import events
from parcours.analytics.paths.sequences import require_mapped
from parcours.analytics.stages.overview import stage_overview
from parcours.errors import ParcoursError
from parcours.query import Query, sql
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.store.store import Store

ANY = "(any)"


def _staged(store: Store, filter: Filter | None) -> Query:
    return sql("SELECT customer_id, stage_index, {order} FROM {events} WHERE stage_index IS NOT NULL",
               order=event_order(), events=events(store, filter))


def stage_progression(store: Store, *, filter: Filter | None = None) -> pd.DataFrame:
    """One row per stage, in journey order.

    Columns: ``stage``; ``current`` (customers whose latest event is in this stage);
    ``furthest`` (customers for whom this is the furthest stage reached); ``reached``
    (customers whose furthest stage is this one or later); ``conversion_from_previous``
    (reached / reached at the previous stage, 0..1); ``entered`` (customers with an event in
    the stage); ``median_seconds`` and ``p90_seconds`` (time in the stage, as the module
    docstring defines it); ``still_in`` (stays not yet ended by a later stage);
    ``went_back`` (customers who, having reached this stage as their furthest, came back to
    an earlier one).
    """
    require_mapped(store, "stage", "stages")
    overview = stage_overview(store, filter=filter)
    names = [s.name for s in store.config.stages]
    staged = _staged(store, filter)
    times = store.engine.df(sql(
        """
        WITH j AS ({staged}),
        entry AS (SELECT customer_id, stage_index, min(timestamp) AS entered FROM j GROUP BY customer_id, stage_index),
        last_seen AS (SELECT customer_id, max(timestamp) AS last_ts FROM j GROUP BY customer_id),
        spans AS (
            SELECT e.customer_id, e.stage_index, e.entered, min(j.timestamp) AS left_at
            FROM entry e LEFT JOIN j ON j.customer_id = e.customer_id
                 AND j.stage_index > e.stage_index AND j.timestamp >= e.entered
            GROUP BY e.customer_id, e.stage_index, e.entered
        )
        SELECT s.stage_index, count(*) AS entered,
               quantile_cont(epoch(coalesce(s.left_at, l.last_ts)) - epoch(s.entered), 0.5) AS median_seconds,
               quantile_cont(epoch(coalesce(s.left_at, l.last_ts)) - epoch(s.entered), 0.9) AS p90_seconds,
               count(*) FILTER (WHERE s.left_at IS NULL) AS still_in
        FROM spans s JOIN last_seen l ON l.customer_id = s.customer_id
        GROUP BY s.stage_index
        """,
        staged=staged,
    ))
    back = store.engine.df(sql(
        "SELECT from_index AS stage_index, count(DISTINCT customer_id) AS went_back FROM {backs} GROUP BY from_index",
        backs=_backs(staged),
    ))
    df = overview[["stage", "current", "reached", "conversion_from_previous"]].copy()
    df.insert(2, "furthest", df["reached"] - df["reached"].shift(-1, fill_value=0))
    idx = pd.Series(range(len(names)), name="stage_index")
    times = times.set_index("stage_index").reindex(idx)
    back = back.set_index("stage_index").reindex(idx)
    df["entered"] = times["entered"].fillna(0).astype(int).to_numpy()
    df["median_seconds"] = times["median_seconds"].to_numpy()
    df["p90_seconds"] = times["p90_seconds"].to_numpy()
    df["still_in"] = times["still_in"].fillna(0).astype(int).to_numpy()
    df["went_back"] = back["went_back"].fillna(0).astype(int).to_numpy()
    return df


def _backs(staged: Query) -> Query:
    """One row per backward event: ``customer_id``, ``from_index`` (furthest so far), ``to_index``."""
    return sql(
        """
        SELECT customer_id, prior_max AS from_index, stage_index AS to_index FROM (
            SELECT customer_id, stage_index,
                   max(stage_index) OVER (PARTITION BY customer_id ORDER BY {order}
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_max
            FROM {staged}
        ) WHERE stage_index < prior_max
        """,
        order=event_order(), staged=staged,
    )


def stage_returns(store: Store, examples: int = 3, *, filter: Filter | None = None) -> pd.DataFrame:
    """Customers who went back to an earlier stage, per (furthest stage so far -> earlier stage).

    Columns: ``from_stage``, ``to_stage``, ``customers``, ``share`` (of the customers who
    reached ``from_stage``, 0..1), ``examples`` (up to ``examples`` customer ids, sorted). A
    customer who went back more than once can be in several rows, so the first row,
    ``(any) -> (any)``, gives the distinct total (share of all customers with a stage).
    """
    if examples < 0:
        raise ParcoursError(f"`examples` {examples}: must be 0 or more")
    require_mapped(store, "stage", "stage returns")
    names = [s.name for s in store.config.stages]
    staged = _staged(store, filter)
    backs = _backs(staged)
    pairs = store.engine.df(sql(
        """
        SELECT from_index, to_index, count(DISTINCT customer_id) AS customers
        FROM {backs} GROUP BY from_index, to_index ORDER BY from_index, to_index
        """,
        backs=backs,
    ))
    sample = store.engine.df(sql(
        """
        SELECT from_index, to_index, customer_id FROM (
            SELECT from_index, to_index, customer_id,
                   row_number() OVER (PARTITION BY from_index, to_index ORDER BY customer_id) AS rn
            FROM (SELECT DISTINCT from_index, to_index, customer_id FROM {backs})
        ) WHERE rn <= {examples} ORDER BY from_index, to_index, customer_id
        """,
        backs=backs, examples=int(examples),
    ))
    totals = store.engine.df(sql(
        """
        SELECT (SELECT count(DISTINCT customer_id) FROM {backs}) AS went_back,
               (SELECT count(DISTINCT customer_id) FROM {staged}) AS customers
        """,
        backs=backs, staged=staged,
    )).iloc[0]
    reached = stage_overview(store, filter=filter)["reached"].to_numpy()
    per = sample.groupby(["from_index", "to_index"])["customer_id"].apply(list)
    rows = [{
        "from_stage": ANY, "to_stage": ANY, "customers": int(totals["went_back"]),
        "share": totals["went_back"] / totals["customers"] if totals["customers"] else 0.0,
        "examples": sorted(sample["customer_id"].drop_duplicates())[:examples],
    }]
    for r in pairs.itertuples():
        rows.append({
            "from_stage": names[r.from_index], "to_stage": names[r.to_index], "customers": int(r.customers),
            "share": r.customers / reached[r.from_index],
            "examples": per.get((r.from_index, r.to_index), []),
        })
    return pd.DataFrame(rows, columns=["from_stage", "to_stage", "customers", "share", "examples"])
