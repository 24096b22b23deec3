"""The options every analysis command shares: ``--segment``, ``--from``, ``--to``, ``--where``,
``--subject``.

A command declares them as parameter defaults and turns them into the one ``Filter``
its analysis takes, so a new filter dimension reaches every command through here::

    def funnel(ctx, ..., segment: str | None = SegmentOption, start=FromOption, end=ToOption):
        filter = make_filter(segment=segment, start=start, end=end)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.query.filter import Filter

SegmentOption = typer.Option(
    None, "--segment", help="Only customers in this saved segment (see `parcours segment list`)."
)
FromOption = typer.Option(
    None, "--from", help="Only events at or after this UTC time, included (YYYY-MM-DD[THH:MM:SS])."
)
#: one meaning on every command: an exclusive instant (a date is its midnight, so --to 2024-02-01 ends with January)
ToOption = typer.Option(
    None, "--to", help="Only events before this UTC time, excluded (YYYY-MM-DD[THH:MM:SS]; "
    "--to 2024-02-01 ends with January 31)."
)


WhereOption = typer.Option(
    [], "--where", help="Only events where FIELD OP VALUE holds, e.g. \"person.plan = 'pro'\", "
    "\"group.company.industry = 'retail'\", \"props.plan = 'pro'\"; on whole customers: \"fitness < 0.8\", "
    "\"deviation = 'skipped stage'\" (conformance). Repeatable (all must hold)."
)

SubjectOption = typer.Option(
    None, "--subject", help="Whose journeys: customers (default), group.TYPE (accounts, e.g. group.company) "
    "or person.NAME (customers sharing a person property count as one)."
)


def make_filter(segment: str | None = None, start: datetime | None = None, end: datetime | None = None,
                where: list[str] | None = None, subject: str | None = None) -> Filter:
    """The analysis filter the shared options describe (an empty filter when none is given)."""
    # here, not at import: the analytics layer loads pandas, which `parcours CMD --help` need not
    from pydantic import ValidationError

    from parcours.query.filter import Filter, parse_where

    try:
        return Filter(segment=segment, start=start, end=end, where=[parse_where(w) for w in where or []],
                      subject=subject)
    except ValidationError as e:
        raise ParcoursError(f"--subject {subject!r}: {e.errors()[0]['msg'].removeprefix('Value error, ')}") from None
