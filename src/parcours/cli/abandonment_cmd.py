"""``parcours abandonment``: cart, checkout and form abandonment as a named report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from parcours.analytics.friction.abandonment import (
    REPORTS,
    abandoned_customers,
    abandonment,
    abandonment_destinations,
)
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def abandonment_command(
    ctx: typer.Context,
    report: str = typer.Argument("cart", help=f"One of: {', '.join(REPORTS)} (or custom with --from-step/--to-step)."),
    window: str = typer.Option("1d", "--window", "-w", help="Time allowed to reach the next step: 30m, 12h, 1d, 7d; a bare number is seconds."),
    from_step: str = typer.Option(None, "--from-step", help="The step reached (event, touchpoint:NAME, stage:NAME)."),
    to_step: str = typer.Option(None, "--to-step", help="The step not reached."),
    value_property: str = typer.Option(None, "--value-property", help="Property of the step-1 event holding its value."),
    view: str = typer.Option("summary", "--view", help="summary, destinations or customers (the export list)."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Customers who reached a step and not the next: how many, their value, where they went, who."""
    name = None if report == "custom" else report
    kw = {"window": window, "from_step": from_step, "to_step": to_step, "filter": filter}
    with state(ctx).store(read_only=True) as store:
        if view == "summary":
            df = abandonment(store, name, value_property=value_property, **kw)
        elif view == "destinations":
            df = abandonment_destinations(store, name, **kw)
        elif view == "customers":
            df = abandoned_customers(store, name, value_property=value_property, **kw)
        else:
            raise ParcoursError(f"--view {view!r}: use summary, destinations or customers")
    emit(df, fmt, title=f"{report} abandonment")


def register(app: typer.Typer) -> None:
    app.command("abandonment")(abandonment_command)
