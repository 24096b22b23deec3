"""The filter every analysis takes: a date range and conditions on events.

``events_sql`` is the journey relation narrowed by a filter; analyses build on it
instead of reading tables, so a new filter dimension reaches every analysis at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from parcours.analytics.segment_members import segment_members_sql
from parcours.journey.materialized import journey_source
from parcours.matcher import Condition, condition_sql, quote


def _utc_literal(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return f"TIMESTAMP {quote(dt.isoformat(sep=' '))}"


class Filter(BaseModel):
    """Which events an analysis looks at."""

    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None  #: inclusive, UTC
    end: datetime | None = None  #: exclusive, UTC
    where: list[Condition] = Field(default_factory=list)
    #: a saved segment's name: only its members' events (see ``parcours.analytics.segments``)
    segment: str | None = None

    def where_sql(self) -> str:
        parts = []
        if self.start is not None:
            parts.append(f"timestamp >= {_utc_literal(self.start)}")
        if self.end is not None:
            parts.append(f"timestamp < {_utc_literal(self.end)}")
        parts.extend(condition_sql(c) for c in self.where)
        return " AND ".join(parts) if parts else "TRUE"


def events_sql(store, filter: Filter | None = None) -> str:
    """The journey relation of ``store``, narrowed by ``filter``, as SQL text.

    The relation is read from its materialized table when that is fresh (rebuilt first when
    stale and the store is writable), else computed live; see ``parcours.journey.materialized``.
    """
    filter = filter or Filter()
    sql = f"SELECT * FROM {journey_source(store)} WHERE {filter.where_sql()}"
    if filter.segment is not None:
        sql += f" AND customer_id IN ({segment_members_sql(store, filter.segment)})"
    return sql
