"""``parcours report``: the journey map with its key figures as one HTML, PDF or PNG file.

Its ``--from``/``--to`` are days, with the meaning they have on every command: ``--to`` is
excluded (``--to 2024-02-01`` ends with January 31). The report draws the dashboard's pages,
whose filter bar takes inclusive days, so ``--to`` becomes the day before it there.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import typer

from parcours.cli.output import console
from parcours.cli.state import state
from parcours.errors import ParcoursError


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParcoursError(f"{option} {value!r}: give a date as YYYY-MM-DD") from None


def report(
    ctx: typer.Context,
    fmt: str = typer.Option("html", "--format", "-f", help="html (self-contained), pdf or png (printed by Chromium)."),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default: journey-map.FORMAT)."),
    segment: str = typer.Option(None, "--segment", help="Only customers in this saved segment."),
    start: str = typer.Option(None, "--from", help="First day, included (YYYY-MM-DD, UTC)."),
    end: str = typer.Option(None, "--to", help="Until this day, excluded (YYYY-MM-DD, UTC; "
                            "--to 2024-02-01 ends with January 31)."),
    lang: str = typer.Option("en", "--lang", help="Labels in en or fr."),
) -> None:
    """Write the journey map report (stages, touchpoints, scores, emotion curve, friction)."""
    from parcours.report import FORMATS, write_report
    from parcours.views.filters import PageFilter

    if fmt not in FORMATS:
        raise ParcoursError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    first, until = _day(start, "--from"), _day(end, "--to")
    if first and until and until <= first:
        raise ParcoursError(f"--from {first} is not before --to {until}: the range is empty "
                            "(--to is excluded: --to 2024-02-01 ends with January)")
    filter = PageFilter(first, until - timedelta(days=1) if until else None, segment)
    output = output or Path(f"journey-map.{fmt}")
    with state(ctx).store(read_only=True) as store:
        written = write_report(store, output, fmt, filter, lang)
    console.print(f"wrote {written} ({written.stat().st_size:,} bytes)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
