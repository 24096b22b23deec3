"""``parcours stages``: customers per stage, conversion, time in each stage, and who went back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from parcours.analytics.stages.stages import stage_progression, stage_returns
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def stages_cmd(
    ctx: typer.Context,
    went_back: bool = typer.Option(False, "--went-back", help="Customers who went back to an earlier stage."),
    examples: int = typer.Option(3, "--examples", help="With --went-back: example customer ids per row."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Stage progression: current and furthest stage, conversion, median/p90 time in each stage."""
    with state(ctx).store(read_only=True) as store:
        if went_back:
            emit(stage_returns(store, examples, filter=filter), fmt, title="went back to an earlier stage")
        else:
            emit(stage_progression(store, filter=filter), fmt, title="stage progression")


def register(app: typer.Typer) -> None:
    app.command("stages")(stages_cmd)
