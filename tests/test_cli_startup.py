"""The CLI starts without loading what it does not need (issue 15).

``parcours --help`` imports no command module (the registry ``parcours.cli.commands`` lists
them) and neither pandas, Arrow nor DuckDB; a command imports its own module only, and
scikit-learn, SciPy, Numba, PySpark, Plotly and the server's FastAPI load only when a command
that needs them runs. The checks run in a fresh interpreter (this test process has imported
them all already)."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import parcours
from parcours.cli.commands import COMMANDS
from parcours.cli.lazy_group import LazyGroup, module_commands
from parcours.cli.output import Format, Rows, emit

HEAVY = ("sklearn", "scipy", "numba", "pyspark", "plotly", "fastapi")
#: what a command on an empty store needs no more than `--help` does
DATA_LIBRARIES = {"pandas", "pyarrow", "numpy"}
CLI = Path(parcours.__file__).parent / "cli"
COMMAND_MODULES = {f"parcours.cli.{module}" for module, _ in COMMANDS.values()}

#: runs the CLI once per argument list in one interpreter, then prints the modules it holds
#: (a module loaded by any of the runs stays in sys.modules)
PROBE = """
import json, sys
from parcours.cli.main import app
for args in json.loads(sys.argv[1]):
    try:
        app(args, standalone_mode=False)
    except (SystemExit, Exception):
        pass
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(*runs: list[str]) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(runs)],
                         capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def loaded_after(*runs: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules_after(*runs)} & set(HEAVY))


def test_importing_the_cli_and_every_help_loads_no_heavy_library():
    helps = [["--help"], *([name, "--help"] for name in ("leads", "personas", "funnel", "abandonment",
                                                           "attribution", "voc", "report", "gdpr", "keys"))]
    assert loaded_after([], *helps) == []


def test_a_command_that_needs_scikit_learn_loads_it_when_it_runs(tmp_path):
    # so the check above can fail: the probe sees what a command's run imports
    assert "sklearn" in loaded_after(["--db", str(tmp_path / "none.duckdb"), "personas"])


def test_the_top_level_help_imports_no_command_and_no_data_library():
    loaded = modules_after(["--help"])
    assert loaded & COMMAND_MODULES == set()
    assert {m.split(".")[0] for m in loaded} & (DATA_LIBRARIES | {"duckdb"}) == set()


def test_a_command_on_an_empty_store_imports_its_module_and_duckdb_only(tmp_path):
    db = tmp_path / "empty.duckdb"
    parcours.open(db).close()
    loaded = modules_after(["--db", str(db), "quarantine"])
    assert loaded & COMMAND_MODULES == {"parcours.cli.quarantine_cmd"}
    top = {m.split(".")[0] for m in loaded}
    assert "duckdb" in top and top & DATA_LIBRARIES == set()


def test_a_command_that_makes_a_dataframe_loads_pandas(tmp_path):
    # so the check above can fail
    db = tmp_path / "empty.duckdb"
    parcours.open(db).close()
    loaded = modules_after(["--db", str(db), "stats"])
    assert "pandas" in loaded and loaded & COMMAND_MODULES == {"parcours.cli.data_cmds"}


def test_the_registry_is_what_the_modules_register():
    """Each module's ``register`` adds exactly the commands the registry gives it, each with the
    registry's help line as its real help's first paragraph; every module with a ``register`` is in it."""
    modules = {module for module, _ in COMMANDS.values()}
    with_register = {p.stem for p in CLI.glob("*.py") if re.search(r"^def register\(", p.read_text(), re.M)}
    assert with_register == modules
    for module in sorted(modules):
        commands = module_commands(module)
        assert set(commands) == {name for name, (m, _) in COMMANDS.items() if m == module}, module
        for name, command in commands.items():
            first_paragraph = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
            assert " ".join(first_paragraph.split()) == COMMANDS[name][1], name


def _help(*before: str) -> str:
    """``parcours --help`` in a fresh interpreter, after running the Python in ``before``."""
    code = "\n".join(["from parcours.cli.main import app", *before,
                      "try:\n    app(['--help'], prog_name='parcours')\nexcept SystemExit:\n    pass"])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"}).stdout


def test_the_top_level_help_lists_every_command_as_the_commands_themselves_do():
    lazy = _help()
    loaded = _help("import typer", "group = typer.main.get_command(app)",
                   "assert all(group.commands[name] for name in group.commands)")  # every command imported
    assert lazy == loaded
    listed = re.findall(r"^│ (\S+) ", lazy.split("Commands")[1], re.M)
    assert listed == list(COMMANDS)


def test_a_command_registered_on_the_root_app_is_refused():
    root = typer.Typer(cls=LazyGroup)
    root.callback()(lambda: None)
    root.command("stray")(lambda: None)
    with pytest.raises(TypeError, match="stray are registered on the root app"):
        typer.main.get_command(root)


def _printed(capsys, data, fmt: Format) -> str:
    capsys.readouterr()
    emit(data, fmt, title="t")
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", list(Format))
def test_rows_print_as_the_dataframe_of_the_same_query(tmp_path, capsys, fmt):
    events = tmp_path / "e.csv"
    events.write_text('user_id,event,timestamp\nu1,view,2024-01-01T00:00:00Z\nu2,view,bad\n,view,2024-01-01\n'
                      '"u,3","a ""quoted"" view",\n')
    store = parcours.open(tmp_path / "s.duckdb")
    try:
        parcours.import_file(store, events, max_quarantined=1)
        quarantine = "SELECT source, row_number, reason, raw, quarantined_at FROM quarantine ORDER BY row_number"
        typed = """SELECT * FROM (VALUES ('a,"b"', 1::BIGINT, 7::UINTEGER, 1.5::DOUBLE, 12345678.0::DOUBLE,
                       TIMESTAMP '2024-01-01 10:00:00.123456', NULL::VARCHAR, NULL::TIMESTAMP),
                   ('c', NULL, NULL, NULL, 0.5, TIMESTAMP '2024-01-02 10:00:00', 'x', TIMESTAMP '2024-01-02'))"""
        for query in (quarantine, typed, f"{quarantine} LIMIT 0"):
            rows = Rows.fetch(store.execute(query))
            assert bool(rows.rows) == ("LIMIT" not in query)
            printed = _printed(capsys, rows, fmt)
            assert printed.strip() and printed == _printed(capsys, store.con.execute(query).df(), fmt), query
        with pytest.raises(TypeError, match="column 'm' is DECIMAL"):
            Rows.fetch(store.execute("SELECT 2.5::DECIMAL(5, 2) AS m"))
    finally:
        store.close()
