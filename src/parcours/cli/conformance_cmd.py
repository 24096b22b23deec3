"""``parcours conformance`` and ``parcours journey export``: the designed journey against real ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from parcours.cli.filter_options import FilterOptions
from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter

#: a segment and dates: --where here is conformance's own (a fitness condition)
SEGMENT_AND_DATES = FilterOptions(where=False, subject=False)


def conformance_cmd(
    ctx: typer.Context,
    per_customer: bool = typer.Option(False, "--per-customer", help="One row per customer: fitness and deviations."),
    where: str = typer.Option(None, "--where", help="Only customers whose fitness satisfies this, e.g. \"fitness < 0.8\"."),
    save_segment: str = typer.Option(None, "--save-segment", help="Save the customers --where selects as a list "
                                     "segment, for --segment on every other analysis."),
    top: int = typer.Option(10, "--top", help="How many actual variants and deviation rows to show."),
    filter: Filter = SEGMENT_AND_DATES,
    fmt: Format = FormatOption,
) -> None:
    """How closely customers follow the designed journey (alignment fitness, see docs/conformance.md)."""
    # here, not at import: the alignment kernel loads Numba, which the CLI's start-up should not pay for
    from parcours.analytics.conformance import (
        conformance_customers,
        conformance_overview,
        fitness_members,
        save_fitness_segment,
    )

    if save_segment:
        if not where:
            raise typer.BadParameter("--save-segment needs --where (which customers to save)")
        with state(ctx).store() as store:
            n = save_fitness_segment(store, save_segment, where, filter=filter, replace=True)
        console.print(f"segment {save_segment!r} saved: {n:,} customers with {where.strip()}")
        return
    with state(ctx).store(read_only=True) as store:
        if per_customer or where:
            df = conformance_customers(store, filter=filter)
            if where:
                df = df[df["customer"].isin(set(fitness_members(store, where, filter=filter)))]
            emit(df.drop(columns=["variant"]) if fmt != Format.json else df, fmt, title="conformance per customer")
            return
        overview = conformance_overview(store, filter=filter, top=top)
    if fmt == Format.json:
        emit(overview, fmt)
        return
    for key in ("stages", "touchpoints", "deviations", "variants"):
        emit(overview[key], fmt, title=f"conformance: {key} ({overview['customers']:,} customers)")


def opportunities_cmd(
    ctx: typer.Context,
    min_customers: int = typer.Option(10, "--min-customers", help="Leave out rows concerning fewer customers."),
    top: int = typer.Option(None, "--top", help="Only the first N rows."),
    filter: Filter = SEGMENT_AND_DATES,
    fmt: Format = FormatOption,
) -> None:
    """Which axes of improvement come first: stages and touchpoints ranked by score (see docs/conformance.md)."""
    from parcours.analytics.conformance import opportunities

    if min_customers < 1:
        raise typer.BadParameter(f"--min-customers {min_customers}: must be at least 1")
    with state(ctx).store(read_only=True) as store:
        df = opportunities(store, filter=filter, min_customers=min_customers)
    if top is not None:
        df = df.head(top)
    if fmt != Format.json:
        df = df.assign(evidence=df["evidence"].map(lambda e: e[0] if e else "")).drop(columns=["example_customers"])
    emit(df, fmt, title="opportunities")


def export_cmd(ctx: typer.Context, file: Path = typer.Argument(..., help="FILE.pnml (Petri net) or FILE.bpmn (BPMN 2.0).")) -> None:
    """Write the designed journey as a Petri net (PNML, readable by pm4py) or BPMN 2.0 XML."""
    from parcours.analytics.conformance import export_journey

    with state(ctx).store(read_only=True) as store:
        config = store.config
    path = export_journey(config, file)
    console.print(f"wrote {path}: the designed journey {config.name!r}")


def register(app: typer.Typer) -> None:
    app.command("conformance")(conformance_cmd)
    app.command("opportunities")(opportunities_cmd)
