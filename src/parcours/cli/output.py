"""Printing results: every data command takes ``--format table|csv|json``.

JSON is always a list of row objects (or one object for single-record commands),
so scripts can rely on it; tables are for people.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
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


#: the SQL types ``Rows`` prints exactly as the DataFrame of the same query: integers and floats
#: (right-aligned, as pandas' numeric dtypes are), text and timestamps; others (DECIMAL, BOOLEAN,
#: lists...) have pandas conversions of their own, so a query with them prints as a DataFrame
_INTEGER_SQL = re.compile(r"(TINY|SMALL|BIG)?INT(EGER)?|U(TINY|SMALL)INT|UINTEGER")  # (all fit an Int64)
_PRINTED_SQL = re.compile(rf"{_INTEGER_SQL.pattern}|FLOAT|DOUBLE|VARCHAR|TIMESTAMP")


@dataclass
class Rows:
    """A query's result as plain Python rows, printed as its DataFrame would be, without pandas.

    For a command whose answer is a query and nothing more (``parcours quarantine``):
    importing pandas takes longer than the rest of such a command (issue 15). Tables and JSON
    are built from the rows; CSV, whose number and time formats are pandas', goes through a
    DataFrame typed as DuckDB types one (integers nullable).
    """

    columns: list[str]
    types: list[str]
    rows: list[tuple]

    @classmethod
    def fetch(cls, cursor: Any) -> Rows:
        """The rest of a DB-API cursor's result; its description gives the names and SQL types."""
        names, types = [str(d[0]) for d in cursor.description], [str(d[1]) for d in cursor.description]
        for name, sql_type in zip(names, types, strict=True):
            if not _PRINTED_SQL.fullmatch(sql_type):
                raise TypeError(f"column {name!r} is {sql_type}, which Rows does not print as pandas "
                                "would: emit the query's DataFrame")
        return cls(names, types, cursor.fetchall())

    @property
    def numeric(self) -> list[bool]:
        return [t not in ("VARCHAR", "TIMESTAMP") for t in self.types]

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        df = pd.DataFrame.from_records(self.rows, columns=self.columns)
        for col, sql_type in zip(self.columns, self.types, strict=True):
            if _INTEGER_SQL.fullmatch(sql_type):
                df[col] = df[col].astype("Int64")  # as DuckDB's DataFrame has it: NULL stays NULL, not NaN
        return df


def emit(data: pd.DataFrame | Rows | dict | list, fmt: Format, title: str | None = None) -> None:
    """Print a DataFrame or ``Rows`` (rows) or a dict (one record) in the chosen format.

    A DataFrame's note (``attrs["note"]``: why the result is not quite what was asked, such as a
    fallback to event level) goes to stderr as one line, so that stdout stays the data.
    """
    if isinstance(data, Rows):
        _emit_rows(data, fmt, title)
        return
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
    _print_table(title, [str(c) for c in df.columns], [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns],
                 df.itertuples(index=False))


def _print_table(title: str | None, columns: list[str], numeric: list[bool], rows: Iterable[tuple]) -> None:
    """A table for people: numbers right-aligned, each value as ``_cell`` writes it."""
    table = Table(title=title, show_lines=False)
    for col, right in zip(columns, numeric, strict=True):
        table.add_column(col, justify="right" if right else "left")
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def _emit_rows(data: Rows, fmt: Format, title: str | None) -> None:
    from parcours.jsonable import plain

    if fmt == Format.csv:
        emit(data.frame(), fmt, title)
    elif fmt == Format.json:
        payload = [{c: plain(v) for c, v in zip(data.columns, row, strict=True)} for row in data.rows]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_table(title, data.columns, data.numeric, data.rows)


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
