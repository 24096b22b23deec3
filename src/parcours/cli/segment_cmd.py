"""``parcours segment ...``: create, list, show, edit and delete saved segments."""

from __future__ import annotations

import typer

from parcours.analytics.segments.segments import (
    create_segment,
    delete_segment,
    edit_segment,
    get_segment,
    list_segments,
    segment_members,
)
from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state

segment_app = typer.Typer(
    help="Saved segments: named rules over customers, usable with --segment on every analysis.",
    no_args_is_help=True,
)

WhereOption = typer.Option(..., "--where", "-w", help="The rule, e.g. \"stage >= 'decision' AND channel = 'ads'\".")


@segment_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Segment name: letters, digits, '_' or '-'."),
    where: str = WhereOption,
    description: str = typer.Option("", "--description", "-d", help="What the segment is for."),
) -> None:
    """Save a segment defined by a rule (see docs/segments.md for the rule language)."""
    with state(ctx).store() as store:
        create_segment(store, name, where, description)
        count = len(segment_members(store, name))
    console.print(f"segment {name!r} saved: {count:,} customers match now")


@segment_app.command("edit")
def edit(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Segment name."),
    where: str = typer.Option(None, "--where", "-w", help="A new rule."),
    description: str = typer.Option(None, "--description", "-d", help="A new description."),
) -> None:
    """Change a segment's rule or description."""
    with state(ctx).store() as store:
        edit_segment(store, name, where=where, description=description)
        count = len(segment_members(store, name))
    console.print(f"segment {name!r} updated: {count:,} customers match now")


@segment_app.command("delete")
def delete(ctx: typer.Context, name: str = typer.Argument(..., help="Segment name.")) -> None:
    """Delete a saved segment (the customers' data is untouched)."""
    with state(ctx).store() as store:
        delete_segment(store, name)
    console.print(f"segment {name!r} deleted")


@segment_app.command("list")
def list_(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """Saved segments with their rule and current number of members."""
    with state(ctx).store(read_only=True) as store:
        emit(list_segments(store), fmt, title="segments")


@segment_app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help="Segment name."), fmt: Format = FormatOption) -> None:
    """One segment: its definition and how many customers it holds now."""
    with state(ctx).store(read_only=True) as store:
        seg = get_segment(store, name)
        count = len(segment_members(store, name))
    emit({"name": seg.name, "kind": seg.kind, "expression": seg.expression, "description": seg.description,
          "members": count, "created_at": seg.created_at, "updated_at": seg.updated_at}, fmt)


@segment_app.command("members")
def members(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Segment name."),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many (0: all)."),
    fmt: Format = FormatOption,
) -> None:
    """The customer ids in a segment, for export."""
    with state(ctx).store(read_only=True) as store:
        df = segment_members(store, name)
    emit(df.head(limit) if limit else df, fmt, title=f"segment {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(segment_app, name="segment")
