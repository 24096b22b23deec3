"""Tables at 80 columns, ``--columns`` and the spinner of long commands (issue 19, CLI).

Tables are for people: durations humanised, numbers formatted, headers never cut to ``custo…``,
columns that do not fit left out and named. CSV and JSON keep the raw values scripts rely on.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import typer
from clirun import run
from dashboard_demo import copy_of_demo
from rich.cells import cell_len
from rich.console import Console

import parcours
from parcours.analytics.funnels.funnel import funnel
from parcours.analytics.funnels.spec import build_spec
from parcours.cli import output, progress
from parcours.cli.cells import duration, formatter, is_numeric
from parcours.cli.main import app
from parcours.cli.tables import layout, wrap_header
from parcours.jsonable import records

STEPS = ("site_visit", "product_view", "add_to_cart", "purchase")
HUMAN_DURATION = re.compile(r"\d(\.\d)? (s|min|h|d)\b")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("tables") / "store.duckdb")


@pytest.fixture(autouse=True)
def columns_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def assert_readable(text: str, width: int = 80) -> None:
    """No cut header or value, no scientific notation, and table lines (columns two spaces apart, rules)
    within ``width``; a message line above a table may be longer: it stays one line when piped."""
    assert text.strip(), "empty table"
    assert "…" not in text, text
    assert not re.search(r"\de[+-]\d", text), text  # no 8.061e+04
    table_lines = [line for line in text.splitlines() if "  " in line.strip() or "─" in line]
    assert table_lines and max(cell_len(line) for line in table_lines) <= width, text


def test_durations_read_in_the_largest_unit_that_fits():
    assert [duration(s) for s in (4.25, 42, 1296, 18720, 233058, -90)] == \
        ["4.2 s", "42 s", "21.6 min", "5.2 h", "2.7 d", "-1.5 min"]
    days = formatter("recency_days", pd.Series([2.7]))
    assert days(2.7) == "2.7 d" and days(float("nan")) == ""
    assert formatter("lag", pd.Series(pd.to_timedelta([80610], unit="s")))(pd.Timedelta(seconds=80610)) == "22.4 h"


def test_shares_numbers_and_labels():
    assert formatter("conversion_from_previous", pd.Series([1.0, 0.5083]))(0.5083) == "50.8%"
    assert formatter("conversion_rate", pd.Series([25.0, 3.5]))(25.0) == "25.00"  # already a percentage: kept
    assert formatter("customers", pd.Series([20103]))(20103) == "20,103"
    assert formatter("year", pd.Series([2024]))(2024) == "2024"
    assert formatter("cohort_year", pd.Series([2024, None], dtype="Int64"))(pd.NA) == ""
    money = formatter("value", pd.Series([7342.93, 12.5]))
    assert money(7342.93) == "7,343"
    assert formatter("score", pd.Series([60.51, 5.3]))(5.3) == "5.30"  # one number of decimals per column
    assert is_numeric(pd.Series([1, 2, None], dtype=object)) and not is_numeric(pd.Series(["a", None]))


def test_headers_wrap_at_underscores_and_wide_tables_name_what_they_leave_out():
    assert wrap_header("median_seconds_from_previous", 9) == "median_\nseconds_\nfrom_\nprevious"
    df = pd.DataFrame({f"column_number_{i}": [i * 1000.5] for i in range(12)})
    shown = layout(df, 80)
    assert 0 < len(shown.left_out) < 12 and shown.width <= 80
    assert shown.left_out == [f"column_number_{i}" for i in range(12 - len(shown.left_out), 12)]
    buf = Console(file=io.StringIO(), width=80)
    buf.print(shown.table)
    assert_readable(buf.file.getvalue())
    empty = Console(file=io.StringIO(), width=80)
    empty.print(layout(df.head(0), 80, "funnel").table)
    assert "(no rows)" in empty.file.getvalue()  # an empty answer says so
    squeezed = layout(df, 80, keep_all=True)  # the user chose them: all shown, folded, nothing cut
    assert squeezed.left_out == [] and squeezed.width <= 80


def test_funnel_table_at_80_columns_is_readable(db, capsys):
    r = run(capsys, "--db", db, "funnel", *STEPS)
    assert r.code == 0, r.err
    assert_readable(r.out)
    assert HUMAN_DURATION.search(r.out) and "%" in r.out and "customers" in r.out
    assert re.search(r"\d,\d{3}", r.out)  # thousands separators
    # what did not fit is named on stderr, with how to get it
    assert "do not fit in 80 columns: " in r.err and "p90_seconds_from_previous" in r.err and "--columns" in r.err


@pytest.mark.parametrize("command", [
    ["summary"], ["stages"], ["paths"], ["friction"], ["opportunities"], ["voc", "scores"], ["retention"],
    ["abandonment"], ["rfm"], ["stats"], ["customer", "c0000766"],
])
def test_typical_tables_fit_80_columns_without_cut_headers(db, capsys, command):
    r = run(capsys, "--db", db, *command)
    assert r.code == 0, r.err
    assert_readable(r.out)


def test_json_and_csv_keep_the_raw_values(db, capsys):
    with parcours.open(db, read_only=True) as store:
        expected = funnel(store, spec=build_spec(list(STEPS)))
    as_json = run(capsys, "--db", db, "funnel", *STEPS, "--format", "json")
    assert as_json.code == 0 and as_json.json() == json.loads(json.dumps(records(expected)))
    as_csv = run(capsys, "--db", db, "funnel", *STEPS, "--format", "csv")
    assert as_csv.code == 0 and as_csv.out == expected.to_csv(index=False)
    assert "do not fit" not in as_csv.err + as_json.err


def test_columns_choose_and_order_the_columns(db, capsys):
    r = run(capsys, "--db", db, "funnel", *STEPS, "--columns", "name, p90_seconds_from_previous,customers")
    assert r.code == 0, r.err
    assert_readable(r.out)
    header = r.out.split("─")[0]
    assert re.search(r"p90_ *\n", header) and "seconds_" in header and "drop_" not in r.out and "do not fit" not in r.err
    csv = run(capsys, "--db", db, "funnel", *STEPS, "--columns", "name,customers", "-f", "csv")
    assert csv.out.splitlines()[0] == "name,customers" and len(csv.out.splitlines()) == 5
    rows = run(capsys, "--db", db, "funnel", *STEPS, "--columns", "customers,name", "-f", "json").json()
    assert [list(row) for row in rows] == [["customers", "name"]] * 4
    record = run(capsys, "--db", db, "stats", "--columns", "events,customers", "-f", "json").json()
    assert list(record) == ["events", "customers"] and record["events"] > 0


def test_columns_unhappy_paths(db, capsys):
    r = run(capsys, "--db", db, "funnel", *STEPS, "--columns", "name,custmers")
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and "--columns: no column 'custmers' in funnel" in r.err
    assert "its columns are step, name, customers" in r.err
    empty = run(capsys, "--db", db, "funnel", *STEPS, "--columns", " , ")
    assert empty.code == 2 and "--columns ' , ': give column names" in empty.err
    # import keeps its own --columns (names for a CSV without header): not overridden
    (columns,) = [p for p in typer.main.get_command(app).commands["import"].params if p.name == "columns"]
    assert columns.help.startswith("Column names for a CSV without header")


def _commands(group, prefix=""):
    """Every command's full name (``journey refresh``), sub-commands of groups included (loads them all)."""
    for name, command in group.commands.items():
        yield f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group
            yield from _commands(command, f"{prefix}{name} ")


def test_every_listed_long_command_exists():
    assert set(_commands(typer.main.get_command(app))) >= progress.SLOW


def test_spinner_on_a_terminal_only_and_never_with_json(db, capsys, monkeypatch):
    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    monkeypatch.setattr(output, "err_console", terminal)
    monkeypatch.setattr(progress, "err_console", terminal)
    r = run(capsys, "--db", db, "funnel", *STEPS)
    assert r.code == 0 and "parcours funnel" in terminal.file.getvalue()
    assert "parcours funnel" not in r.out and not output._spinner  # stopped before the table
    terminal.file.truncate(0)
    as_json = run(capsys, "--db", db, "funnel", *STEPS, "--format", "json")
    assert as_json.code == 0 and terminal.file.getvalue() == ""
    monkeypatch.setattr(progress, "err_console", Console(file=io.StringIO()))  # a pipe: not a terminal
    piped = run(capsys, "--db", db, "funnel", *STEPS)
    assert piped.code == 0 and terminal.file.getvalue() == ""
