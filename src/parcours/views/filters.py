"""The filter a page is drawn for: the dashboard's filter bar (``from``, ``to`` as inclusive days, ``segment``,
``where``, ``subject``), and the report's ``--from/--to/--segment`` options.

They become the same ``Filter`` every analysis takes, so one filter applies to a whole page.
``where`` (repeatable) is a condition as the CLI's ``--where`` writes it: ``person.plan = 'pro'``,
``group.company.industry = 'retail'``, ``props.plan = 'pro'``. ``subject`` says whose journeys a page
shows, as the CLI's ``--subject``: customers (absent), or accounts (``group.company``), so the
journey map and every page can be read per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from parcours.query.filter import Filter, parse_where


@dataclass(frozen=True)
class PageFilter:
    start: date | None = None
    end: date | None = None  #: inclusive
    segment: str | None = None
    where: tuple[str, ...] = ()
    subject: str | None = None

    def to_filter(self) -> Filter:
        return Filter(
            start=datetime.combine(self.start, time()) if self.start else None,
            end=datetime.combine(self.end + timedelta(days=1), time()) if self.end else None,
            segment=self.segment,
            where=[parse_where(w, "where=") for w in self.where],
            subject=self.subject,
        )

    def key(self) -> tuple:
        return (self.start, self.end, self.segment, self.where, self.subject)

    def query(self, **extra: str | None) -> str:
        """The filter (and ``extra`` parameters) as a query string, for links that keep it."""
        params = {"from": self.start and self.start.isoformat(), "to": self.end and self.end.isoformat(),
                  "segment": self.segment, "subject": self.subject, **extra}
        pairs = [(k, v) for k, v in params.items() if v] + [("where", w) for w in self.where]
        return urlencode(pairs)
