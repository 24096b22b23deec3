"""``parcours followups ...``: open, list and update the follow-up items of unhappy answers."""

from __future__ import annotations

import typer

from parcours.analytics.voc.followups import (
    STATUSES,
    create_followups,
    followup,
    list_followups,
    update_followup,
)
from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state

followups_app = typer.Typer(
    help="Close the loop: a follow-up item for every detractor and very low CSAT/CES answer.",
    no_args_is_help=True,
)


@followups_app.command("create")
def create(ctx: typer.Context) -> None:
    """Open an item for every low answer that has none yet (safe to run again)."""
    with state(ctx).store() as store:
        created = create_followups(store)
    console.print(f"{created} follow-up item(s) opened")


@followups_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status", help=f"Only this status: {', '.join(STATUSES)}."),
    owner: str = typer.Option(None, "--owner", help="Only items owned by this team or person."),
    fmt: Format = FormatOption,
) -> None:
    """Follow-up items, newest answer first."""
    with state(ctx).store(read_only=True) as store:
        items = list_followups(store, status=status, owner=owner)
    if fmt == Format.table:  # the rest (identities, stage, language, times) is in csv/json and `show`
        items = items[["followup_id", "status", "owner", "customer_id", "metric", "score", "touchpoint", "comment"]]
    emit(items, fmt, title="follow-ups")


@followups_app.command("show")
def show(ctx: typer.Context, followup_id: int = typer.Argument(..., help="The item's id."),
         fmt: Format = FormatOption) -> None:
    """One item with the customer's recent journey and its history."""
    with state(ctx).store(read_only=True) as store:
        emit(followup(store, followup_id), fmt)


@followups_app.command("update")
def update(
    ctx: typer.Context,
    followup_id: int = typer.Argument(..., help="The item's id."),
    status: str = typer.Option(None, "--status", help=f"New status: {', '.join(STATUSES)}."),
    owner: str = typer.Option(None, "--owner", help="New owner (a team or a person)."),
    note: str = typer.Option(None, "--note", help="A note to add to the item's history."),
    author: str = typer.Option(None, "--author", help="Who makes the change (kept in the history)."),
    fmt: Format = FormatOption,
) -> None:
    """Change an item's status or owner, or add a note; every change is kept."""
    with state(ctx).store() as store:
        emit(update_followup(store, followup_id, status=status, owner=owner, note=note, author=author), fmt)


def register(app: typer.Typer) -> None:
    app.add_typer(followups_app, name="followups")
