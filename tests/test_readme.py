"""The README's examples run as written (issue 15): every command in its code blocks, on data built here.

The ``Use it`` block runs on a fresh store from the files it names (built below); the
analyses run on a small demo store; the Python block runs on the store the first block
made. Each command must exit 0 and print something. The lines not run are listed with
the reason, so a new README command cannot slip past the test.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
from clirun import run
from dashboard_demo import demo_store_path

ROOT = Path(__file__).resolve().parents[1]
#: lines not run here, and why
NOT_RUN = {
    "make demo": "builds a virtual environment and serves the dashboard (covered by the Makefile's own targets)",
    "make test": "runs the whole suite, this test included",
    "parcours serve": "a server that runs until stopped (tests/test_server.py drives it)",
    "parcours --engine spark funnel ...": "a placeholder for any analysis on Spark (tests/test_engines.py)",
}


def blocks(lang: str) -> list[list[str]]:
    """The README's ``lang`` code blocks, as command lines (continuations joined, comments dropped)."""
    found = re.findall(rf"```{lang}\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    out = []
    for text in found:
        text = text.replace("\\\n", " ")
        lines = [re.split(r"\s{2,}#|^#", line)[0].strip() for line in text.splitlines()]
        out.append([" ".join(line.split()) for line in lines if line])
    return out


def _events(tmp: Path) -> None:
    rows = [("ann@example.com", "site_visit", "2024-03-01T10:00:00Z"), ("ann@example.com", "purchase",
            "2024-03-01T10:05:00Z"), ("bob", "site_visit", "2024-03-02T09:00:00Z")]
    pd.DataFrame(rows, columns=["visitor", "action", "timestamp"]).to_csv(tmp / "events.csv", index=False)
    (tmp / "clicks.csv").write_text("carl,i1,c1,pv,1709287200\ncarl,i1,c1,buy,1709287300\n")
    pd.DataFrame([("dana", "site_visit", pd.Timestamp("2024-03-03T08:00:00Z"))],
                 columns=["user_id", "event", "timestamp"]).to_parquet(tmp / "events.parquet")


def _check(capsys, line: str) -> None:
    args = shlex.split(line)
    assert args[0] == "parcours", line
    r = run(capsys, *args[1:])
    assert r.code == 0, f"{line}: exit {r.code}: {r.err}"
    assert r.out.strip() or r.err.strip(), f"{line}: printed nothing"


def test_every_readme_command_is_run_or_listed():
    lines = [line for block in blocks("sh") for line in block]
    assert set(NOT_RUN) <= set(lines), set(NOT_RUN) - set(lines)


def test_use_it_block_and_python_block(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCOURS_DB", raising=False)
    _events(tmp_path)
    setup, use_it, _ = blocks("sh")
    assert setup == ["make demo", "make test"]
    for line in use_it:
        _check(capsys, line)
    (python,) = blocks("python")
    exec("\n".join(python), {})  # noqa: S102 - the README's own example


def test_analyses_block(tmp_path_factory, tmp_path, monkeypatch, capsys):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_store_path(tmp_path_factory.getbasetemp()), db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARCOURS_DB", str(db))
    for line in blocks("sh")[2]:
        if line in NOT_RUN:
            continue
        _check(capsys, line)
