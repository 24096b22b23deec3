"""``parcours demo``: generate the seeded demo business into the store."""

from __future__ import annotations

import typer

from parcours.cli.output import console
from parcours.cli.state import state


def demo(
    ctx: typer.Context,
    customers: int = typer.Option(20_000, "--customers", "-n", min=1, help="How many customers to generate."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same data."),
) -> None:
    """Generate realistic multi-channel journeys (the demo business) into the store, then return."""
    from parcours.demo import load_demo

    with state(ctx).store() as store:
        result = load_demo(store, customers=customers, seed=seed)
    console.print(f"demo data: {result.loaded:,} events for {customers:,} customers (seed {seed}) in {state(ctx).db}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
