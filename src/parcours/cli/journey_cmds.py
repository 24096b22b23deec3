"""``parcours init`` and ``parcours journey ...``: the journey map as a file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from parcours.analytics.stages.overview import unmapped_events
from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state
from parcours.config import TEMPLATES, parse_config, template_text
from parcours.errors import ParcoursError

journey_app = typer.Typer(help="Show, set and check the store's journey map.", no_args_is_help=True)


def init(
    template: str = typer.Option("five-stages", "--template", "-t", help=f"One of: {', '.join(TEMPLATES)}."),
    output: Path = typer.Option(Path("journey.toml"), "--output", "-o", help="Where to write the journey file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a journey file from a shipped template, to edit and then `parcours journey set`."""
    text = template_text(template)
    if output.exists() and not force:
        raise ParcoursError(f"{output}: already exists (use --force to overwrite)")
    output.write_text(text, "utf-8")
    config = parse_config(text, template)
    console.print(f"wrote {output}: {len(config.stages)} stages, {len(config.touchpoints)} touchpoints")


@journey_app.command("set")
def set_journey(ctx: typer.Context, file: Path = typer.Argument(..., help="A journey TOML file.")) -> None:
    """Validate a journey file and make it the store's journey map."""
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise ParcoursError(f"{file}: journey file not found") from None
    with state(ctx).store() as store:
        config = store.set_journey(text, str(file))
    console.print(f"journey {config.name!r} set: {len(config.stages)} stages, {len(config.touchpoints)} touchpoints")


@journey_app.command("show")
def show(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """List the journey's touchpoints by stage."""
    with state(ctx).store() as store:
        config = store.config
    rows = [
        {"stage": t.stage, "touchpoint": t.name, "label": t.label or t.name, "channel": t.channel,
         "online": t.online, "team": t.team, "moment_of_truth": t.moment_of_truth}
        for s in config.stages for t in config.touchpoints if t.stage == s.name
    ]
    emit(pd.DataFrame(rows), fmt, title=config.name)


@journey_app.command("unmapped")
def unmapped(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """Events that match no touchpoint (kept, never dropped): what the journey file is missing."""
    with state(ctx).store() as store:
        emit(unmapped_events(store), fmt, title="events matching no touchpoint")


@journey_app.command("refresh")
def refresh(ctx: typer.Context) -> None:
    """Bring the materialized journey table and the stored touchpoint sequence up to date if they
    are stale: incrementally (the customers whose events changed) when every write since they
    were built only added events or moved named customers, else rebuilt whole (read-only
    analyses, as the CLI's are, cannot update them and compute live until then)."""
    from parcours.analytics.paths.sequences import STEPS
    from parcours.engine import engine_class
    from parcours.journey.materialized import JOURNEY, refresh_all

    with state(ctx).store() as store:
        if not engine_class(store.engine_name).reads_store_tables:
            raise ParcoursError(f"journey refresh: the {store.engine_name} engine reads the live relation")
        done = refresh_all(store, (JOURNEY, STEPS["touchpoint"]), sort=True)
        if all(d.how == "fresh" for d in done):
            console.print("journey table: up to date")
            return
        rows = store.execute("SELECT count(*) FROM derived.journey").fetchone()[0]
    seconds = sum(d.seconds for d in done)
    if any(d.how == "full" for d in done):
        console.print(f"journey table: rebuilt, {rows:,} events in {seconds:.2f}s (full)")
    else:
        customers = max(d.customers for d in done)
        console.print(f"journey table: updated incrementally for {customers:,} customers, "
                      f"{rows:,} events in {seconds:.2f}s")


def register(app: typer.Typer) -> None:
    # `journey export` writes the designed journey as conformance checking reads it, so it lives there
    from parcours.cli.conformance_cmd import export_cmd

    journey_app.command("export")(export_cmd)
    app.command("init")(init)
    app.add_typer(journey_app, name="journey")
