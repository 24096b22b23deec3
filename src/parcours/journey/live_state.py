"""Each customer's live journey state, kept up to date as events arrive.

One row per customer in ``derived.customer_state``: the stage they are in now (the stage of
their latest staged event, in ``EVENT_ORDER``), the furthest stage they reached, when they
first entered each stage, their moments of truth (events at a touchpoint marked
``moment_of_truth``) and when they were last seen. It is a derived relation like the
materialized journey (``parcours.journey.materialized``): built once, then caught up on the
customers whose events changed (an import, a collector batch, a stitching run) rather than
recomputed. ``version`` is the data version at which the customer's row was last computed,
so that the live triggers (``parcours.server.triggers``) evaluate only the customers whose
events arrived since they last looked, and the live view (``parcours.web.live``) counts
customers per stage from one small table instead of the whole journey.
"""

from __future__ import annotations

from parcours.journey.materialized import JOURNEY, Changes, Derived, journey_source, source
from parcours.journey.relation import EVENT_ORDER
from parcours.matcher import quote
from parcours.store.store import Store

#: the staged events' order: the one event order of every analysis
_ORDER = f"({EVENT_ORDER})"


def state_sql(store: Store, journey: str | None = None, customers: str | None = None) -> str:
    """SQL of the state rows, over ``journey`` (default: the fresh journey table), of ``customers`` only if given.

    Columns: customer_id, current_stage, current_stage_index, furthest_stage,
    furthest_stage_index, entries (list of {stage, entered_at}, in order of entry),
    moments_of_truth (count), last_moment (touchpoint), last_moment_at, events, first_seen,
    last_seen, version.
    """
    journey = journey or JOURNEY.table
    where = f"WHERE customer_id IN ({customers})" if customers else ""
    moments = [t.name for t in store.config.touchpoints if t.moment_of_truth]
    is_moment = f"touchpoint IN ({', '.join(quote(m) for m in moments)})" if moments else "FALSE"
    return f"""
        WITH j AS (
            SELECT customer_id, timestamp, arrival_seq, message_id, touchpoint, stage, stage_index
            FROM {journey} {where}
        ),
        entered AS (
            SELECT customer_id, list({{'stage': stage, 'entered_at': entered_at}}
                                     ORDER BY entered_at, stage_index) AS entries
            FROM (SELECT customer_id, stage, min(stage_index) AS stage_index, min(timestamp) AS entered_at
                  FROM j WHERE stage IS NOT NULL GROUP BY customer_id, stage)
            GROUP BY customer_id
        ),
        per AS (
            SELECT customer_id,
                   arg_max(stage, {_ORDER}) FILTER (WHERE stage IS NOT NULL) AS current_stage,
                   arg_max(stage_index, {_ORDER}) FILTER (WHERE stage IS NOT NULL) AS current_stage_index,
                   arg_max(stage, stage_index) AS furthest_stage,
                   max(stage_index) AS furthest_stage_index,
                   count(*) FILTER (WHERE {is_moment}) AS moments_of_truth,
                   arg_max(touchpoint, {_ORDER}) FILTER (WHERE {is_moment}) AS last_moment,
                   max(timestamp) FILTER (WHERE {is_moment}) AS last_moment_at,
                   count(*) AS events, min(timestamp) AS first_seen, max(timestamp) AS last_seen
            FROM j GROUP BY customer_id
        )
        SELECT per.customer_id, current_stage, current_stage_index, furthest_stage, furthest_stage_index,
               coalesce(entries, []) AS entries, moments_of_truth, last_moment, last_moment_at,
               events, first_seen, last_seen, CAST({store.data_version()} AS BIGINT) AS version
        FROM per LEFT JOIN entered USING (customer_id)
    """


def _catch_up(store: Store, changes: Changes) -> tuple[str, str]:
    """A customer's state depends on its events only: recompute the changed customers' rows."""
    return f"customer_id IN ({changes.customers})", state_sql(store, customers=changes.customers)


#: the live state table (caught up incrementally, like the journey it reads)
STATE = Derived("customer_state", state_sql, "customer_id", needs=(JOURNEY,), catch_up=_catch_up)


def state_source(store: Store) -> str:
    """Where to read the state from: its fresh table (caught up first), or the live SQL in brackets."""
    return source(store, STATE) or f"({state_sql(store, journey_source(store).sql(dialect='duckdb'))})"


def changed_since_sql(store: Store, version: int | None) -> str | None:
    """SQL of the customers whose state was computed after data version ``version`` (None: all)."""
    if version is None:
        return None
    table = source(store, STATE)
    if table is None:
        return None
    return f"SELECT customer_id FROM {table} WHERE version > {int(version)}"
