"""The options every analysis command shares: ``--segment``, ``--from``, ``--to``.

A command declares them as parameter defaults and turns them into the one ``Filter``
its analysis takes, so a new filter dimension reaches every command through here::

    def funnel(ctx, ..., segment: str | None = SegmentOption, start=FromOption, end=ToOption):
        flt = make_filter(segment=segment, start=start, end=end)
"""

from __future__ import annotations

from datetime import datetime

import typer

from parcours.analytics.filters import Filter

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


def make_filter(segment: str | None = None, start: datetime | None = None, end: datetime | None = None) -> Filter:
    """The analysis filter the shared options describe (an empty filter when none is given)."""
    return Filter(segment=segment, start=start, end=end)
