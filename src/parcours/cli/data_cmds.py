"""Getting data in and looking at it: import, stats, summary, customer (``parcours quarantine`` has a module of its own)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from parcours.analytics.stages.overview import stage_overview, store_stats, top_touchpoints
from parcours.cli.filter_options import FilterOptions
from parcours.cli.output import Format, FormatOption, console, emit, err_console
from parcours.cli.state import state
from parcours.ingest import Mapping, import_file
from parcours.ingest.entities import ENTITY_KINDS, import_entities
from parcours.ingest.importer import MAX_QUARANTINED
from parcours.ingest.readers import check_file
from parcours.journey.profiles import customer_profile

if TYPE_CHECKING:
    from parcours.query.filter import Filter


def import_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, JSON Lines, Parquet or XES file (gzipped is fine)."),
    as_: str = typer.Option(None, "--as", help="Input format: csv, jsonl, parquet or xes (default: from the extension); "
                            "persons or groups for a person or group (account) table (see docs/persons-groups.md)."),
    map_: list[str] = typer.Option([], "--map", help="FIELD=COLUMN, e.g. --map user_id=visitorid. Repeatable."),
    set_: list[str] = typer.Option([], "--set", help="FIELD=VALUE constant, e.g. --set channel=web. Repeatable."),
    timezone: str = typer.Option(None, "--timezone", help="Time zone of timestamps written without an offset."),
    timestamp_format: str = typer.Option(
        None, "--timestamp-format", help="iso (default), unix, unix_ms, or a strftime pattern such as %Y%m%d."
    ),
    delimiter: str = typer.Option(
        ",", "--delimiter", help="CSV field delimiter: one character, or 'whitespace' for runs of blanks."
    ),
    encoding: str = typer.Option("utf-8", "--encoding", help="CSV text encoding: utf-8, latin-1, cp1252, utf-16..."),
    max_quarantined: float = typer.Option(
        MAX_QUARANTINED, "--max-quarantined",
        help="Fail (exit 2, top reasons shown) when more than this share of the rows is quarantined.",
    ),
    no_header: bool = typer.Option(False, "--no-header", help="The CSV has no header line (give --columns)."),
    columns: str = typer.Option(None, "--columns", help="Column names for a CSV without header: a,b,c."),
    fmt: Format = FormatOption,
) -> None:
    """Import events from a file. Bad rows are quarantined; re-importing adds nothing."""
    mapping = Mapping.parse(map_, set_)
    check_file(file)  # before the store is opened, so a bad path leaves no new store behind
    cols = [c.strip() for c in columns.split(",")] if columns else None
    if as_ in ENTITY_KINDS:
        with state(ctx).store() as store:
            entities = import_entities(store, file, as_, mapping)
        if fmt == Format.table:
            console.print(f"{file}: {entities.rows} {as_} rows, {entities.values} property values, "
                          f"{entities.memberships} memberships")
        else:
            emit(entities.as_dict(), fmt)
        return
    with state(ctx).store() as store, Progress(
        TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("import", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = import_file(
            store, file, fmt=as_, mapping=mapping, timezone=timezone, timestamp_format=timestamp_format,
            delimiter=delimiter, header=not no_header, columns=cols, on_progress=on_progress,
            encoding=encoding, max_quarantined=max_quarantined,
        )
    result = {"source": str(file), "loaded": summary.loaded, "quarantined": summary.quarantined,
              "duplicates": summary.duplicates, "rows": summary.rows, "reasons": summary.reasons}
    if fmt == Format.table:
        console.print(
            f"{file}: {summary.loaded} loaded, {summary.quarantined} quarantined, "
            f"{summary.duplicates} skipped as duplicates"
            + (f"  (top reasons: {summary.describe_reasons()}; see `parcours quarantine`)"
               if summary.quarantined else "")
        )
    else:
        emit(result, fmt)


def stats(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """Counts: events, customers, quarantined and unmapped events, events by name."""
    with state(ctx).store(read_only=True) as store:
        result = store_stats(store)
    emit(result, fmt, title="store")


def summary(ctx: typer.Context, fmt: Format = FormatOption,
            filter: Filter = FilterOptions(dates=False, where=False, subject=False)) -> None:
    """The journey at a glance: customers per stage, conversion, top touchpoints per stage."""
    with state(ctx).store(read_only=True) as store:
        stages = stage_overview(store, filter=filter)
        tops = top_touchpoints(store, filter=filter)
        stats_ = store_stats(store)
    if fmt == Format.json:
        emit({"stages": stages, "top_touchpoints": tops, "events": stats_["events"],
              "customers": stats_["customers"]}, fmt)
        return
    if fmt == Format.csv:
        emit(stages, fmt)
        return
    console.print(f"[bold]{stats_['events']:,}[/] events, [bold]{stats_['customers']:,}[/] customers "
                  f"({stats_['customers_with_touchpoint']:,} with a touchpoint), "
                  f"{stats_['unmapped_events']:,} unmapped events, {stats_['quarantined']:,} quarantined rows")
    emit(stages, fmt, title="customers per stage")
    emit(tops, fmt, title="top touchpoints per stage")


def customer(
    ctx: typer.Context,
    customer_id: str = typer.Argument(..., help="Any identifier of the customer (user id, anonymous id, email...)."),
    limit: int = typer.Option(50, "--limit", help="Timeline rows to show (0: all)."),
    fmt: Format = FormatOption,
) -> None:
    """One customer: stitched identities, first/last seen, stages, and the timeline of touchpoints."""
    with state(ctx).store(read_only=True) as store:
        profile = customer_profile(store, customer_id)
    timeline = profile.timeline if not limit else profile.timeline.tail(limit)
    if fmt == Format.json:
        emit({**profile.summary(), "identities": profile.identities, "timeline": timeline}, fmt)
        return
    if fmt == Format.csv:
        emit(timeline, fmt)
        return
    emit(profile.summary(), fmt, title=f"customer {profile.customer_id}")
    emit(profile.identities, fmt, title="identities")
    emit(timeline, fmt, title="timeline")


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("stats")(stats)
    app.command("summary")(summary)
    app.command("customer")(customer)
