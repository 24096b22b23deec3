"""The live view's data: customers per stage now, stage entries in the last hour, latest events.

The figures per stage come from each customer's live journey state
(``parcours.journey.live_state``: current stage, stage entries), a derived table caught up on
the customers whose events just arrived, so a poll after an application of the collector's
log costs two small aggregates over one row per customer, not a pass over every event. The
latest events are the newest rows of the journey relation. The page polls ``/live.json``
every few seconds; the dashboard's query cache keys it by the store's data version, so polls
between two applications cost a version check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from parcours.analytics.filters import events
from parcours.journey.live_state import state_source
from parcours.query import sql
from parcours.store.store import Store, utcnow

LATEST_EVENTS = 20


def live_state(store: Store, now: datetime | None = None) -> dict:
    """``stages``: stage, customers_now (customers whose latest staged event is in it),
    entries_last_hour (customers whose first event in it came within the hour); ``latest``:
    the newest events by receive time; ``as_of``: the UTC time of the figures."""
    now = now or utcnow()
    state = state_source(store)
    figures = store.engine.df(sql(
        """
        SELECT stage, sum(now_count) AS customers_now, sum(entry_count) AS entries_last_hour FROM (
            SELECT current_stage AS stage, count(*) AS now_count, 0 AS entry_count
            FROM {state} s WHERE current_stage IS NOT NULL GROUP BY current_stage
            UNION ALL
            SELECT e.stage, 0, count(*) FROM (SELECT unnest(entries) AS e FROM {state} s)
            WHERE e.entered_at >= {hour_ago} GROUP BY e.stage
        ) GROUP BY stage
        """,
        state=state, hour_ago=now - timedelta(hours=1),
    ))
    counts = {r["stage"]: r for r in figures.to_dict("records")}
    stages = [{"stage": s.name, "customers_now": int(counts.get(s.name, {}).get("customers_now", 0)),
               "entries_last_hour": int(counts.get(s.name, {}).get("entries_last_hour", 0))}
              for s in store.config.stages]
    latest = store.engine.df(sql(
        """
        SELECT strftime(received_at, '%Y-%m-%dT%H:%M:%SZ') AS received_at,
               strftime(timestamp, '%Y-%m-%dT%H:%M:%SZ') AS timestamp, customer_id, event, touchpoint, stage
        FROM {journey} j ORDER BY received_at DESC NULLS LAST, timestamp DESC, message_id LIMIT {latest}
        """,
        journey=events(store), latest=LATEST_EVENTS,
    ))
    latest = latest.astype(object).where(latest.notna(), None).to_dict("records")
    return {"as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "stages": stages, "latest": latest}
