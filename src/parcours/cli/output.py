"""Printing results: every data command takes ``--format table|csv|json``.

JSON is always a list of row objects (or one object for single-record commands),
so scripts can rely on it; tables are for people.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = typer.Option(Format.table, "--format", "-f", help="Output format: table, csv or json.")

console = Console(soft_wrap=True)  # messages stay one line when piped
err_console = Console(stderr=True)


def emit(data: pd.DataFrame | dict | list, fmt: Format, title: str | None = None) -> None:
    """Print a DataFrame (rows) or a dict (one record) in the chosen format.

    A DataFrame's note (``attrs["note"]``: why the result is not quite what was asked, such as a
    fallback to event level) goes to stderr as one line, so that stdout stays the data.
    """
    import pandas as pd  # here: every command imports this module, not every command makes a DataFrame

    from parcours.jsonable import plain, records

    note = data.attrs.get("note") if isinstance(data, pd.DataFrame) else None
    if note:
        sys.stderr.write(f"{note}\n")
    if fmt == Format.json:
        payload = records(data) if isinstance(data, pd.DataFrame) else plain(data)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    df = data if isinstance(data, pd.DataFrame) else _as_frame(data)
    if fmt == Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(df[col]) else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def _as_frame(data: dict | list) -> pd.DataFrame:
    import pandas as pd

    from parcours.jsonable import plain

    if isinstance(data, list):
        return pd.DataFrame(data)
    return pd.DataFrame([{"key": k, "value": json.dumps(plain(v)) if isinstance(v, dict | list) else v}
                         for k, v in data.items()])


def _cell(v: Any) -> str:
    from parcours.jsonable import plain

    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)
