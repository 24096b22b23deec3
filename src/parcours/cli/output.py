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
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, get_type_hints

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from parcours.errors import ParcoursError
from parcours.jsonable import plain, records


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


def emit(data: pd.DataFrame | dict | list, fmt: Format, title: str | None = None) -> None:
    """Print a DataFrame (rows) or a dict (one record) in the chosen format.

    A DataFrame's note (``attrs["note"]``: why the result is not quite what was asked, such as a
    fallback to event level) goes to stderr as one line, so that stdout stays the data.
    """
    stop_spinner()
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


def _select(data: pd.DataFrame | dict | list, chosen: list[str], title: str | None) -> pd.DataFrame | dict | list:
    """Only the chosen columns (a DataFrame's columns, a list of rows' keys, or a record's keys), in that order."""
    if isinstance(data, pd.DataFrame):
        known = [str(c) for c in data.columns]
    elif isinstance(data, dict):
        known = [str(k) for k in data]
    else:
        known = list(dict.fromkeys(str(k) for row in data for k in row))
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ParcoursError(f"--columns: no column {', '.join(map(repr, unknown))} in "
                            f"{title or 'this output'}; its columns are {', '.join(known)}")
    if isinstance(data, pd.DataFrame):
        picked = data[chosen]
        picked.attrs = data.attrs
        return picked
    if isinstance(data, dict):
        return {c: data[c] for c in chosen}
    return [{c: row.get(c) for c in chosen} for row in data]


def _as_frame(data: dict | list) -> pd.DataFrame:
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
