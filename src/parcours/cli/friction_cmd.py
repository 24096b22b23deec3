"""``parcours friction``: ranked friction points with their evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from parcours.analytics.friction.friction import friction
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def friction_cmd(
    ctx: typer.Context,
    min_z: float = typer.Option(2.0, "--min-z", help="Show signals scoring at least this (robust z x harm weight, see docs/friction.md)."),
    min_customers: int = typer.Option(30, "--min-customers", help="Ignore touchpoints with fewer customers."),
    support_days: float = typer.Option(3.0, "--support-days", help="A support contact this soon counts."),
    wait_factor: float = typer.Option(10.0, "--wait-factor", help="A wait this many times the usual is long."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Where the journey hurts: touchpoints whose signals stand out, worst first (see docs/friction.md)."""
    with state(ctx).store(read_only=True) as store:
        df = friction(store, min_z=min_z, min_customers=min_customers, support_days=support_days,
                      wait_factor=wait_factor, filter=filter)
    emit(df, fmt, title="friction points")


def register(app: typer.Typer) -> None:
    app.command("friction")(friction_cmd)
