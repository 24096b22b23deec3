"""``parcours identity ...``: the merge log, undoing a wrong merge, rebuilding."""

from __future__ import annotations

import typer

from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state
from parcours.identity import merges, stitch, unmerge

identity_app = typer.Typer(help="Identity stitching: merges, unmerge, rebuild.", no_args_is_help=True)


@identity_app.command("merges")
def list_merges(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """Every merge (and unmerge): which customer ids became one, when and why."""
    with state(ctx).store(read_only=True) as store:
        emit(merges(store), fmt, title="merge log")


@identity_app.command("unmerge")
def unmerge_cmd(ctx: typer.Context, merge_id: int = typer.Argument(..., help="The merge_id from `identity merges`.")) -> None:
    """Undo a wrong merge: the links that caused it are blocked and the customers split again."""
    with state(ctx).store() as store:
        result = unmerge(store, merge_id)
    console.print(f"merge {merge_id} undone: customers {', '.join(result)}")


@identity_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Recompute every customer from all identity links (after changing the identity traits)."""
    with state(ctx).store() as store:
        result = stitch(store, full=True)
    console.print(f"identity map rebuilt: {result['affected_identifiers']} identifiers")


def register(app: typer.Typer) -> None:
    app.add_typer(identity_app, name="identity")
