"""Core errors name parameters; the CLI shows the flags the user typed."""

from __future__ import annotations

import click
import pytest
from typer.testing import CliRunner

import parcours
from parcours.cli.main import app
from parcours.cli.param_errors import with_flags
from parcours.errors import ParcoursError


def test_with_flags_maps_known_parameters_and_unquotes_the_rest():
    params = [click.Option(["--min-customers", "-m"], "min_customers"), click.Argument(["path"])]
    assert with_flags("`min_customers` 0: must be at least 1", params) == "--min-customers 0: must be at least 1"
    assert with_flags("`path` missing; `other` too", params) == "PATH missing; other too"


def test_the_core_names_the_parameter_and_the_cli_the_flag(tmp_path):
    db = tmp_path / "s.duckdb"
    store = parcours.open(db)
    with pytest.raises(ParcoursError, match="^`min_customers` 0: must be at least 1$"):
        parcours.friction(store, min_customers=0)
    store.close()
    res = CliRunner().invoke(app, ["--db", str(db), "friction", "--min-customers", "0"])
    assert isinstance(res.exception, ParcoursError)
    assert str(res.exception) == "--min-customers 0: must be at least 1"


def test_a_duration_error_names_the_flag_on_the_command_line(tmp_path):
    db = tmp_path / "s.duckdb"
    parcours.open(db).close()
    res = CliRunner().invoke(app, ["--db", str(db), "attribution", "--lookback", "soon"])
    assert isinstance(res.exception, ParcoursError)
    assert str(res.exception).startswith("--lookback 'soon': not a duration")


def test_a_duration_too_long_for_a_timedelta_is_an_error_not_an_overflow():
    from parcours.durations import parse_duration
    from parcours.errors import ParcoursError

    with pytest.raises(ParcoursError, match="window '9' \\* 10\\*\\*30|too long"):
        parse_duration("9" * 30 + "d", "window")


def test_a_server_module_names_the_parameter_and_the_cli_the_flag(tmp_path):
    from parcours.server.keys import create_key

    db = tmp_path / "s.duckdb"
    store = parcours.open(db)
    with pytest.raises(ParcoursError, match="^`source` 'a b': use 1-64 letters"):
        create_key(store, "write", "web", source="a b")
    store.close()
    res = CliRunner().invoke(app, ["--db", str(db), "keys", "create", "--role", "write", "--name", "web",
                                   "--source", "a b"])
    assert isinstance(res.exception, ParcoursError)
    assert str(res.exception).startswith("--source 'a b': use 1-64 letters")
