"""``parcours quarantine``: the rows an import rejected.

A module of its own, importing only the store: the command is one query, and printing it
as ``Rows`` rather than a DataFrame spares it pandas, which takes longer to import than
the rest of the command (issue 15).
"""

from __future__ import annotations

import typer

from parcours.cli.output import Format, FormatOption, Rows, emit
from parcours.cli.state import state


def quarantine(
    ctx: typer.Context,
    source: str = typer.Option(None, "--source", help="Only rows from this file."),
    limit: int = typer.Option(100, "--limit", help="At most this many rows (0: all)."),
    fmt: Format = FormatOption,
) -> None:
    """Rows that failed validation, with the file, row number, reason and raw row."""
    with state(ctx).store(read_only=True) as store:
        # a NULL parameter keeps every source, a NULL limit every row: one constant query
        rows = Rows.fetch(store.execute(
            "SELECT source, row_number, reason, raw, quarantined_at FROM quarantine "
            "WHERE ? IS NULL OR source = ? ORDER BY source, row_number LIMIT ?",
            [source or None, source or None, limit or None],
        ))
    emit(rows, fmt, title="quarantined rows")


def register(app: typer.Typer) -> None:
    app.command("quarantine")(quarantine)
