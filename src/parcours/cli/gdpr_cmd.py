"""``parcours gdpr erase|export|retention|scrub``: data-subject rights and data hygiene.

Run while the server is stopped (it owns the store while it runs; use its admin API
then). Each first applies what the collector's write-ahead log still holds, so no
acknowledged event is missed, and erase deletes the log segments afterwards.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

from parcours.cli.output import console
from parcours.cli.state import state
from parcours.errors import ParcoursError

gdpr_app = typer.Typer(help="Erase or export a person; retention; scrub a property.", no_args_is_help=True)


def _settled(ctx: typer.Context):
    # the server package loads FastAPI: imported when a command runs, not for `--help`
    from parcours.server.applier import replay
    from parcours.server.wal import wal_dir

    store = state(ctx).store()
    directory = wal_dir(store.path)
    if directory.exists():
        replay(store, directory)
    return store, directory


def _drop_log(directory: Path) -> None:
    """Delete every log segment (all applied): the log must not keep a copy of erased data."""
    from parcours.server.wal import segment_path, segments

    for n in segments(directory):
        segment_path(directory, n).unlink(missing_ok=True)


@gdpr_app.command("erase")
def erase(ctx: typer.Context, person: str = typer.Argument(..., help="Any identifier of the person.")) -> None:
    """Remove a person everywhere, at once: events, identities, quarantine rows, every table."""
    from parcours.server.gdpr import erase_person

    store, directory = _settled(ctx)
    with store:
        deleted = erase_person(store, person)
    _drop_log(directory)
    print(json.dumps({"id": person, "deleted": deleted}))


@gdpr_app.command("export")
def export(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="Any identifier of the person."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the JSON here (default: stdout)."),
) -> None:
    """Everything held about a person, as JSON."""
    from parcours.server.gdpr import export_person

    store, _ = _settled(ctx)
    with store:
        data = export_person(store, person)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        print(text)


@gdpr_app.command("retention")
def retention(ctx: typer.Context, days: int = typer.Option(..., "--days", help="Delete events older than this.")) -> None:
    """Delete raw events older than an age."""
    from parcours.server.gdpr import apply_retention

    store, _ = _settled(ctx)
    with store:
        n = apply_retention(store, days)
    console.print(f"deleted {n} events older than {days} days")


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ParcoursError(f"{option} {value!r}: not an ISO date or time (e.g. 2024-05-01)") from None


@gdpr_app.command("scrub")
def scrub(
    ctx: typer.Context,
    prop: str = typer.Argument(..., help="Property NAME, or context.NAME."),
    start: str = typer.Option(None, "--from", help="From this UTC date/time (inclusive)."),
    end: str = typer.Option(None, "--to", help="To this UTC date/time (exclusive)."),
) -> None:
    """Remove a property from every event in a time range (PII sent by mistake)."""
    from parcours.server.gdpr import scrub_property

    s, e = _when(start, "--from"), _when(end, "--to")
    store, directory = _settled(ctx)
    with store:
        n = scrub_property(store, prop, s, e)
    _drop_log(directory)
    console.print(f"removed {prop} from {n} events")


def register(app: typer.Typer) -> None:
    app.add_typer(gdpr_app, name="gdpr")
