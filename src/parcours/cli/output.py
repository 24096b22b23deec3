"""Printing results: every data command takes ``--format table|csv|json`` and ``--columns``.

JSON is always a list of row objects (or one object for single-record commands),
so scripts can rely on it; tables are for people: they fit the terminal (see ``tables``),
with durations, shares and numbers written for reading (see ``cells``).

``--columns a,b,c`` is added to every command that has ``--format`` in one place,
``offer_columns``, rather than in each command's signature.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, get_type_hints

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from parcours.errors import ParcoursError
from parcours.jsonable import plain, records

if TYPE_CHECKING:
    import pandas as pd


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = typer.Option(Format.table, "--format", "-f", help="Output format: table, csv or json.")
ColumnsOption = typer.Option(
    None, "--columns", help="Only these columns, in this order: a,b,c (table, csv and json; "
    "a table too wide for the terminal leaves out its last columns and names them)."
)


class _Stdout(Console):
    """The results console: a running spinner stops before anything is printed under it."""

    def print(self, *args: Any, **kwargs: Any) -> None:
        stop_spinner()
        super().print(*args, **kwargs)


console = _Stdout(soft_wrap=True)  # messages stay one line when piped
err_console = Console(stderr=True)

#: the columns asked for with --columns, for the command now running
_columns: ContextVar[list[str] | None] = ContextVar("parcours_columns", default=None)
_spinner: list[Progress] = []


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

    def select(self, chosen: list[str], title: str | None) -> Rows:
        """Only the ``chosen`` columns, in that order (``--columns``)."""
        _known_columns(title, self.columns, chosen)
        at = [self.columns.index(c) for c in chosen]
        return Rows(chosen, [self.types[i] for i in at], [tuple(row[i] for i in at) for row in self.rows])

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
    stop_spinner()
    if isinstance(data, Rows):
        if _emit_rows(data, fmt, title):
            return
        data = data.frame()
    import pandas as pd  # here: every command imports this module, not every command makes a DataFrame

    note = data.attrs.get("note") if isinstance(data, pd.DataFrame) else None
    if note:
        sys.stderr.write(f"{note}\n")
    chosen = _columns.get()
    if chosen:
        data = _select(data, chosen, title)
    if fmt == Format.json:
        payload = records(data) if isinstance(data, pd.DataFrame) else plain(data)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    df = data if isinstance(data, pd.DataFrame) else _as_frame(data)
    if fmt == Format.csv:
        sys.stdout.write(df.to_csv(index=False))
        return
    from parcours.cli.tables import layout

    width = Console().width  # read now: $COLUMNS or the terminal, as it is when the command prints
    shown = layout(df, width, title, keep_all=bool(chosen))
    console.print(shown.table, width=max(shown.width, 1))
    if shown.left_out:
        sys.stderr.write(f"{title or 'table'}: {len(shown.left_out)} more column(s) do not fit in {width} "
                         f"columns: {', '.join(shown.left_out)} (pick columns with --columns a,b,c, "
                         f"or use --format csv)\n")


def _emit_rows(data: Rows, fmt: Format, title: str | None) -> bool:
    """Print ``data`` without pandas where nothing needs its formats: JSON, or a table with no row.

    False: the caller prints it as its DataFrame (CSV, and tables with rows, are pandas' formats).
    """
    chosen = _columns.get()
    if chosen:
        data = data.select(chosen, title)
    if fmt == Format.json:
        payload = [{c: plain(v) for c, v in zip(data.columns, row, strict=True)} for row in data.rows]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return True
    if fmt == Format.table and not data.rows:
        from parcours.cli.tables import layout_cells

        shown = layout_cells(data.columns, data.numeric, [[] for _ in data.columns], Console().width, title,
                             keep_all=bool(chosen))
        console.print(shown.table, width=max(shown.width, 1))
        return True
    return False


def _known_columns(title: str | None, known: list[str], chosen: list[str]) -> None:
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ParcoursError(f"--columns: no column {', '.join(map(repr, unknown))} in "
                            f"{title or 'this output'}; its columns are {', '.join(known)}")


def _select(data: pd.DataFrame | dict | list, chosen: list[str], title: str | None) -> pd.DataFrame | dict | list:
    """Only the chosen columns (a DataFrame's columns, a list of rows' keys, or a record's keys), in that order."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        known = [str(c) for c in data.columns]
    elif isinstance(data, dict):
        known = [str(k) for k in data]
    else:
        known = list(dict.fromkeys(str(k) for row in data for k in row))
    _known_columns(title, known, chosen)
    if isinstance(data, pd.DataFrame):
        picked = data[chosen]
        picked.attrs = data.attrs
        return picked
    if isinstance(data, dict):
        return {c: data[c] for c in chosen}
    return [{c: row.get(c) for c in chosen} for row in data]


def _as_frame(data: dict | list) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, list):
        return pd.DataFrame(data)
    return pd.DataFrame([{"key": k, "value": json.dumps(plain(v)) if isinstance(v, dict | list) else v}
                         for k, v in data.items()])


def _parse_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not names:
        raise ParcoursError(f"--columns {text!r}: give column names separated by commas, e.g. --columns stage,customers")
    return names


def _takes_format(callback: Callable) -> bool:
    params = inspect.signature(callback).parameters
    return "columns" not in params and any(p.default is FormatOption for p in params.values())


def _with_columns(callback: Callable) -> Callable:
    """``callback`` with a ``--columns`` option, whose value ``emit`` reads while the command runs."""
    signature = inspect.signature(callback, eval_str=True)

    @functools.wraps(callback)
    def command(**kwargs: Any) -> Any:
        token = _columns.set(_parse_columns(kwargs.pop("columns", None)))
        try:
            return callback(**kwargs)
        finally:
            _columns.reset(token)

    extra = inspect.Parameter("columns", inspect.Parameter.KEYWORD_ONLY, default=ColumnsOption, annotation=str | None)
    command.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
    command.__annotations__ = {**get_type_hints(callback), "columns": str | None}
    return command


def offer_columns(app: typer.Typer) -> None:
    """Give ``--columns`` to every command of ``app`` (and its sub-apps) that prints with ``--format``."""
    for info in app.registered_commands:
        if info.callback is not None and _takes_format(info.callback):
            info.callback = _with_columns(info.callback)
    for group in app.registered_groups:
        offer_columns(group.typer_instance)


@contextmanager
def spinner(description: str, enabled: bool) -> Iterator[None]:
    """A transient spinner with the elapsed time on stderr while a long command works.

    Stopped by the first result printed (``emit``, ``console.print``), so it never mixes with output.
    """
    if not enabled:
        yield
        return
    progress = Progress(SpinnerColumn(), TextColumn(description), TimeElapsedColumn(),
                        console=err_console, transient=True, redirect_stdout=False, redirect_stderr=False)
    progress.add_task(description, total=None)
    progress.start()
    _spinner.append(progress)
    try:
        yield
    finally:
        stop_spinner()


def stop_spinner() -> None:
    while _spinner:
        _spinner.pop().stop()
