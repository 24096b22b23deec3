"""The live view's data: customers per stage now, stage entries in the last hour, latest events.

Three small aggregate queries over the journey relation (the materialized table when it is
fresh), computed on demand: the page polls ``/live.json`` every few seconds, and nothing else
is rebuilt for it. The dashboard's query cache keys it by the store's data version, so
polls between two applications of the collector's log cost a version check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from parcours.analytics.filters import events_sql
from parcours.matcher import quote
from parcours.store.store import Store, utcnow

LATEST_EVENTS = 20


def live_state(store: Store, now: datetime | None = None) -> dict:
    """``stages``: stage, customers_now (customers whose latest staged event is in it),
    entries_last_hour (customers whose first event in it came within the hour); ``latest``:
    the newest events by receive time; ``as_of``: the UTC time of the figures."""
    now = now or utcnow()
    journey = events_sql(store)
    hour_ago = quote((now - timedelta(hours=1)).isoformat(sep=" "))
    figures = store.engine.df(f"""
        WITH staged AS (SELECT customer_id, stage, timestamp FROM ({journey}) j WHERE stage IS NOT NULL),
        now_in AS (SELECT arg_max(stage, timestamp) AS stage FROM staged GROUP BY customer_id),
        entered AS (SELECT stage, min(timestamp) AS entered_at FROM staged GROUP BY customer_id, stage)
        SELECT stage, sum(now_count) AS customers_now, sum(entry_count) AS entries_last_hour FROM (
            SELECT stage, count(*) AS now_count, 0 AS entry_count FROM now_in GROUP BY stage
            UNION ALL
            SELECT stage, 0, count(*) FROM entered WHERE entered_at >= TIMESTAMP {hour_ago} GROUP BY stage
        ) GROUP BY stage
    """)
    counts = {r["stage"]: r for r in figures.to_dict("records")}
    stages = [{"stage": s.name, "customers_now": int(counts.get(s.name, {}).get("customers_now", 0)),
               "entries_last_hour": int(counts.get(s.name, {}).get("entries_last_hour", 0))}
              for s in store.config.stages]
    latest = store.engine.df(f"""
        SELECT strftime(received_at, '%Y-%m-%dT%H:%M:%SZ') AS received_at,
               strftime(timestamp, '%Y-%m-%dT%H:%M:%SZ') AS timestamp, customer_id, event, touchpoint, stage
        FROM ({journey}) j ORDER BY received_at DESC NULLS LAST, timestamp DESC, message_id LIMIT {LATEST_EVENTS}
    """)
    latest = latest.astype(object).where(latest.notna(), None).to_dict("records")
    return {"as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "stages": stages, "latest": latest}
