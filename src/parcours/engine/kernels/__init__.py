"""Compiled sequence kernels over customer-sorted Arrow columns.

A kernel sees plain arrays for one batch of whole groups (``starts`` gives the group
offsets) and returns plain arrays per group, so the same function runs under
``Engine.map_groups`` here and inside Spark's ``mapInArrow`` later. Nothing in this
package knows about stores, SQL or pandas.
"""

from parcours.engine.kernels.funnel import (
    FunnelKernelResult,
    clickhouse_window_funnel,
    group_starts,
    posthog_ordered,
    posthog_unordered,
    trends_entries,
)

__all__ = [
    "FunnelKernelResult", "clickhouse_window_funnel", "group_starts", "posthog_ordered",
    "posthog_unordered", "trends_entries",
]
