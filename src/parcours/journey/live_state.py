"""Each customer's live journey state, kept up to date as events arrive.

One row per customer in ``derived.customer_state``: the stage they are in now (the stage of
their latest staged event, in the event order), the furthest stage they reached, when they
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

from sqlglot import exp

from parcours.journey.materialized import JOURNEY, CatchUp, Changes, Derived, journey_source, source
from parcours.query import Query, sql, table
from parcours.query.journey import event_order
from parcours.store.store import Store


def state_query(store: Store, journey: Query | None = None, customers: Query | None = None) -> Query:
    """The state rows, over ``journey`` (default: the fresh journey table), of ``customers`` only if given.

    Columns: customer_id, current_stage, current_stage_index, furthest_stage,
    furthest_stage_index, entries (list of {stage, entered_at}, in order of entry),
    moments_of_truth (count), last_moment (touchpoint), last_moment_at, events, first_seen,
    last_seen, version.
    """
    journey = table(JOURNEY.table) if journey is None else journey
    moments = [t.name for t in store.config.touchpoints if t.moment_of_truth]
    return sql(
        """
        WITH j AS (
            SELECT customer_id, timestamp, arrival_seq, message_id, touchpoint, stage, stage_index
            FROM {journey} WHERE {mine}
        ),
        entered AS (
            SELECT customer_id, list({'stage': stage, 'entered_at': entered_at}
                                     ORDER BY entered_at, stage_index) AS entries
            FROM (SELECT customer_id, stage, min(stage_index) AS stage_index, min(timestamp) AS entered_at
                  FROM j WHERE stage IS NOT NULL GROUP BY customer_id, stage)
            GROUP BY customer_id
        ),
        per AS (
            SELECT customer_id,
                   arg_max(stage, ({order})) FILTER (WHERE stage IS NOT NULL) AS current_stage,
                   arg_max(stage_index, ({order})) FILTER (WHERE stage IS NOT NULL) AS current_stage_index,
                   arg_max(stage, stage_index) AS furthest_stage,
                   max(stage_index) AS furthest_stage_index,
                   count(*) FILTER (WHERE {is_moment}) AS moments_of_truth,
                   arg_max(touchpoint, ({order})) FILTER (WHERE {is_moment}) AS last_moment,
                   max(timestamp) FILTER (WHERE {is_moment}) AS last_moment_at,
                   count(*) AS events, min(timestamp) AS first_seen, max(timestamp) AS last_seen
            FROM j GROUP BY customer_id
        )
        SELECT per.customer_id, current_stage, current_stage_index, furthest_stage, furthest_stage_index,
               coalesce(entries, []) AS entries, moments_of_truth, last_moment, last_moment_at,
               events, first_seen, last_seen, CAST({version} AS BIGINT) AS version
        FROM per LEFT JOIN entered USING (customer_id)
        """,
        journey=journey,
        mine=exp.true() if customers is None else sql("customer_id IN ({customers})", customers=customers),
        order=event_order(),
        # FALSE written here: an empty list bound in a template that is the IN itself stays unbound
        is_moment=sql("touchpoint IN ({moments})", moments=moments) if moments else exp.false(),
        version=store.data_version(),
    )


def _catch_up(store: Store, changes: Changes) -> CatchUp:
    """A customer's state depends on its events only: recompute the changed customers' rows."""
    return CatchUp(state_query(store, customers=changes.customers),
                   deleted=sql("customer_id IN ({customers})", customers=changes.customers))


#: the live state table (caught up incrementally, like the journey it reads)
STATE = Derived("customer_state", state_query, ("customer_id",), needs=(JOURNEY,), catch_up=_catch_up)


def state_source(store: Store) -> Query:
    """Where to read the state from: its fresh table (caught up first), or the live query."""
    stored = source(store, STATE)
    return table(stored) if stored is not None else state_query(store, journey_source(store))


def changed_since(store: Store, version: int | None) -> Query | None:
    """The customers whose state was computed after data version ``version`` (None: all)."""
    if version is None:
        return None
    stored = source(store, STATE)
    if stored is None:
        return None
    return sql("SELECT customer_id FROM {state} WHERE version > {version}", state=table(stored), version=int(version))
