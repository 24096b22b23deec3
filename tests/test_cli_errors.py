"""Every CLI failure is one line on stderr (issue 15): usage errors exit 2, internal errors point to a log."""

from __future__ import annotations

import pytest
from clirun import run

from parcours.cli import data_cmds


@pytest.mark.parametrize("args, expected", [
    (["customer"], "Missing argument 'customer_id'"),
    (["funnel", "a", "b", "--from", "2024-13-01"], "Invalid value for '--from'"),
    (["stats", "--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_exit_2(tmp_path, capsys, args, expected):
    r = run(capsys, "--db", tmp_path / "s.duckdb", *args)
    assert r.code == 2
    assert r.err.count("\n") == 1 and r.err.startswith("error: ") and expected in r.err
    assert "Usage:" not in r.err and "╭" not in r.err


def test_internal_error_is_one_line_pointing_to_the_log(tmp_path, capsys, monkeypatch):
    def broken(store):
        raise ZeroDivisionError("kaboom")

    events = tmp_path / "e.csv"
    events.write_text("user_id,event,timestamp\nu1,view,2024-01-01T00:00:00Z\n")
    assert run(capsys, "--db", tmp_path / "s.duckdb", "import", events).code == 0
    log = tmp_path / "err.log"
    monkeypatch.setenv("PARCOURS_LOG", str(log))
    monkeypatch.setattr(data_cmds, "store_stats", broken)
    r = run(capsys, "--db", tmp_path / "s.duckdb", "stats")
    assert r.code == 1
    assert r.err.count("\n") == 1 and "Traceback" not in r.err + r.out
    assert "internal error: ZeroDivisionError: kaboom" in r.err and str(log) in r.err
    assert "Traceback" in log.read_text() and "kaboom" in log.read_text()


@pytest.mark.parametrize("args, dates", [
    (["funnel", "a", "b"], ["--from", "2024-12-01", "--to", "2024-01-01"]),
    (["paths"], ["--from", "2024-12-01", "--to", "2024-12-01"]),
    (["retention"], ["--since", "2024-12-01", "--until", "2024-01-01"]),
])
def test_inverted_or_empty_date_range_is_an_error(tmp_path, capsys, args, dates):
    events = tmp_path / "e.csv"
    events.write_text("user_id,event,timestamp\nu1,a,2024-01-01T00:00:00Z\nu1,b,2024-01-02T00:00:00Z\n")
    assert run(capsys, "--db", tmp_path / "s.duckdb", "import", events).code == 0
    r = run(capsys, "--db", tmp_path / "s.duckdb", *args, *dates)
    assert r.code == 2 and r.err.count("\n") == 1 and "the range is empty" in r.err


def test_since_until_are_hidden_aliases(capsys):
    r = run(capsys, "paths", "--help")
    assert "--from" in r.out and "excluded" in r.out and "--since" not in r.out and "--until" not in r.out
