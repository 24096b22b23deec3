"""``parcours personas`` (behavioural clusters in plain words) and ``parcours rfm`` (the simpler scores)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from parcours.cli.filter_options import FilterOptions
from parcours.cli.output import Format, FormatOption, emit, err_console
from parcours.cli.state import state

if TYPE_CHECKING:
    from parcours.query.filter import Filter

#: the customers to describe: those with an event in the filter (each with all their behaviour)
CUSTOMERS = FilterOptions(subject=False)


def personas(
    ctx: typer.Context,
    k: int = typer.Option(None, "--k", min=2, help="Number of personas (default: best silhouette over 3..max-k)."),
    max_k: int = typer.Option(8, "--max-k", min=3, help="Largest number of personas to try."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed and data give the same personas."),
    save: bool = typer.Option(False, "--save", help="Save each persona as a segment (persona_1, ...)."),
    filter: Filter = CUSTOMERS,
    fmt: Format = FormatOption,
) -> None:
    """Find behavioural personas and describe each one: size, what sets it apart, channels, conversion."""
    from parcours.analytics.segments.personas import find_personas, save_personas

    with state(ctx).store(read_only=not save) as store:
        result = find_personas(store, k=k, k_range=range(3, max_k + 1), seed=seed, filter=filter)
        if save:
            save_personas(store, result)
    err_console.print(
        f"{result.k} personas (silhouette " + ", ".join(f"k={c}: {s:.3f}" for c, s in result.silhouette.items())
        + ")" + (", saved as segments" if save else ""), highlight=False, soft_wrap=True,
    )
    emit(result.cards, fmt, title="personas")


def rfm(
    ctx: typer.Context,
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many customers (0: all)."),
    filter: Filter = CUSTOMERS,  # (the purchases counted: those in the filter)
    fmt: Format = FormatOption,
) -> None:
    """RFM scores of buyers: recency, frequency and monetary quintiles (5 = best)."""
    from parcours.analytics.segments.personas import rfm_scores

    with state(ctx).store(read_only=True) as store:
        df = rfm_scores(store, filter=filter)
    emit(df.head(limit) if limit else df, fmt, title="RFM scores")


def register(app: typer.Typer) -> None:
    app.command("personas")(personas)
    app.command("rfm")(rfm)
