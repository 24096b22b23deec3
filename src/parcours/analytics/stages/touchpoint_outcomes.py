"""What happens after each touchpoint: how many go on to a later stage, how many stop there.

The journey map shows these per touchpoint, in journey order. "Journey order" is the
designer's (the journey file's order within a stage) or, measured, the typical order:
the mean position at which customers first reach the touchpoint among the touchpoints of
its stage they use (1 = the first they use in that stage).
"""

from __future__ import annotations

import pandas as pd

from parcours.analytics.filters import events
from parcours.analytics.paths.sequences import require_mapped
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.template import sql
from parcours.store.store import Store


def touchpoint_outcomes(store: Store, *, filter: Filter | None = None) -> pd.DataFrame:
    """One row per declared touchpoint, stage by stage in the journey file's order.

    Columns: ``stage``, ``touchpoint``, ``customers`` (customers with an event at it),
    ``onward`` (of them, those with an event in a later stage after their first step here),
    ``conversion`` (onward / customers), ``dropped`` (those whose journey ends here: their
    last mapped event), ``dropoff`` (dropped / customers), ``position`` (the measured
    typical order: mean rank of the first step here among the stage's touchpoints each
    customer uses). Rates and position are None for a touchpoint nobody used (there is
    nothing to measure, which is not a rate of 0), and ``conversion`` in the last stage.
    """
    require_mapped(store, "touchpoint", "touchpoint outcomes")
    counts = store.engine.df(sql("""
        WITH e AS (
            SELECT customer_id, touchpoint, stage_index, {order},
                   row_number() OVER (PARTITION BY customer_id ORDER BY {order} DESC) AS from_end
            FROM {events} WHERE touchpoint IS NOT NULL AND event NOT IN ({ignored})
        ),
        firsts AS (
            SELECT customer_id, touchpoint, min(stage_index) AS stage_index, min(timestamp) AS t0,
                   max(CASE WHEN from_end = 1 THEN 1 ELSE 0 END) AS last_here
            FROM e GROUP BY customer_id, touchpoint
        ),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY customer_id, stage_index ORDER BY t0, touchpoint) AS pos
            FROM firsts
        ),
        latest AS (SELECT customer_id, stage_index, max(timestamp) AS last_ts FROM e GROUP BY customer_id, stage_index),
        onward AS (
            SELECT DISTINCT f.customer_id, f.touchpoint
            FROM firsts f JOIN latest l ON l.customer_id = f.customer_id
            WHERE l.stage_index > f.stage_index AND l.last_ts >= f.t0
        )
        SELECT r.touchpoint, count(*) AS customers, count(o.customer_id) AS onward,
               sum(r.last_here) AS dropped, avg(r.pos) AS position
        FROM ranked r LEFT JOIN onward o ON o.customer_id = r.customer_id AND o.touchpoint = r.touchpoint
        GROUP BY r.touchpoint
    """, order=event_order(), events=events(store, filter), ignored=list(store.config.ignored_events)))
    declared = pd.DataFrame([(t.stage, t.name) for s in store.config.stages
                             for t in store.config.touchpoints if t.stage == s.name], columns=["stage", "touchpoint"])
    out = declared.merge(counts, on="touchpoint", how="left")
    for c in ("customers", "onward", "dropped"):
        out[c] = out[c].fillna(0).astype("int64")
    used = out["customers"] > 0
    # the last stage has no later stage to go on to: no conversion onward, rather than 0%
    out["conversion"] = (out["onward"] / out["customers"]).where(used & (out["stage"] != store.config.stages[-1].name))
    out["dropoff"] = (out["dropped"] / out["customers"]).where(used)
    out["position"] = out["position"].astype("float64").where(used)
    return out[["stage", "touchpoint", "customers", "onward", "conversion", "dropped", "dropoff", "position"]]

