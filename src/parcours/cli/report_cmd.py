"""``parcours report``: the journey map with its key figures as one HTML, PDF or PNG file."""

from __future__ import annotations

from datetime import date
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
    start: str = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC)."),
    end: str = typer.Option(None, "--to", help="Last day, included (YYYY-MM-DD, UTC)."),
    lang: str = typer.Option("en", "--lang", help="Labels in en or fr."),
) -> None:
    """Write the journey map report (stages, touchpoints, scores, emotion curve, friction)."""
    from parcours.report import FORMATS, write_report
    from parcours.views.filters import PageFilter

    if fmt not in FORMATS:
        raise ParcoursError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    filter = PageFilter(_day(start, "--from"), _day(end, "--to"), segment)
    if filter.start and filter.end and filter.end < filter.start:
        raise ParcoursError(f"--to {filter.end} is before --from {filter.start}")
    output = output or Path(f"journey-map.{fmt}")
    with state(ctx).store(read_only=True) as store:
        written = write_report(store, output, fmt, filter, lang)
    console.print(f"wrote {written} ({written.stat().st_size:,} bytes)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
