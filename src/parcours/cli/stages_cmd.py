"""``parcours stages``: customers per stage, conversion, time in each stage, and who went back."""

from __future__ import annotations

from datetime import datetime

import typer

from parcours.analytics.stages import stage_progression, stage_returns
from parcours.cli.filter_options import (
    FromOption,
    SegmentOption,
    SubjectOption,
    ToOption,
    WhereOption,
    make_filter,
)
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state


def stages_cmd(
    ctx: typer.Context,
    went_back: bool = typer.Option(False, "--went-back", help="Customers who went back to an earlier stage."),
    examples: int = typer.Option(3, "--examples", help="With --went-back: example customer ids per row."),
    segment: str = SegmentOption,
    start: datetime = FromOption,
    end: datetime = ToOption,
    where: list[str] = WhereOption,
    subject: str | None = SubjectOption,
    fmt: Format = FormatOption,
) -> None:
    """Stage progression: current and furthest stage, conversion, median/p90 time in each stage."""
    filter = make_filter(segment=segment, start=start, end=end, where=where, subject=subject)
    with state(ctx).store(read_only=True) as store:
        if went_back:
            emit(stage_returns(store, examples, filter), fmt, title="went back to an earlier stage")
        else:
            emit(stage_progression(store, filter), fmt, title="stage progression")


def register(app: typer.Typer) -> None:
    app.command("stages")(stages_cmd)
