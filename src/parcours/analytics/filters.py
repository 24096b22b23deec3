"""The filter every analysis takes: a date range and conditions on events.

``events_sql`` is the journey relation narrowed by a filter; analyses build on it
instead of reading tables, so a new filter dimension reaches every analysis at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from parcours.errors import ParcoursError
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

    def model_post_init(self, _context) -> None:
        """An inverted or empty date range selects nothing: a mistake, not an answer of zeros."""
        if self.start is not None and self.end is not None:
            start, end = (d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d for d in (self.start, self.end))
            if start >= end:
                raise ParcoursError(
                    f"--from {self.start:%Y-%m-%d %H:%M} is not before --to {self.end:%Y-%m-%d %H:%M}: the range is "
                    "empty (--to is exclusive: --to 2024-02-01 ends with January)"
                )

    def where_sql(self) -> str:
        parts = []
        if self.start is not None:
            parts.append(f"timestamp >= {_utc_literal(self.start)}")
        if self.end is not None:
            parts.append(f"timestamp < {_utc_literal(self.end)}")
        parts.extend(condition_sql(c) for c in self.where)
        return " AND ".join(parts) if parts else "TRUE"


def events_sql(store, flt: Filter | None = None) -> str:
    """The journey relation of ``store``, narrowed by ``flt``, as SQL text.

    The relation is read from its materialized table when that is fresh (rebuilt first when
    stale and the store is writable), else computed live; see ``parcours.journey.materialized``.
    """
    flt = flt or Filter()
    sql = f"SELECT * FROM {journey_source(store)} WHERE {flt.where_sql()}"
    if flt.segment is not None:
        # imported here: segments builds on this module (its breakdown takes a Filter)
        from parcours.analytics.segments import segment_members_sql

        sql += f" AND customer_id IN ({segment_members_sql(store, flt.segment)})"
    return sql
