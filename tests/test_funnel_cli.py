"""``parcours funnel`` and ``parcours abandonment``: the stable interface scripts rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import load_events, shared_path
from typer.testing import CliRunner

from parcours.cli.main import app
from parcours.errors import ParcoursError

runner = CliRunner()


@pytest.fixture
def db(store, tmp_path):
    load_events(store, [
        {"user_id": "ann", "event": "view", "timestamp": "2024-03-01T10:00:00Z"},
        {"user_id": "ann", "event": "add_to_cart", "timestamp": "2024-03-01T10:05:00Z", "properties": {"cart_value": 40}},
        {"user_id": "ann", "event": "purchase", "timestamp": "2024-03-01T10:09:00Z"},
        {"user_id": "bob", "event": "view", "timestamp": "2024-03-01T10:00:00Z"},
        {"user_id": "bob", "event": "add_to_cart", "timestamp": "2024-03-01T10:01:00Z", "properties": {"cart_value": 25.5}},
        {"user_id": "bob", "event": "support_call", "timestamp": "2024-03-01T10:02:00Z"},
    ], tmp_path)
    store.close()
    return str(store.path)


def _json(args: list[str]):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_funnel_steps_json(db):
    rows = _json(["--db", db, "funnel", "view", "add_to_cart", "purchase", "--window", "30m", "--format", "json"])
    assert [(r["step"], r["name"], r["customers"]) for r in rows] == [(1, "view", 2), (2, "add_to_cart", 2), (3, "purchase", 1)]
    rows = _json(["--db", db, "funnel", "view", "purchase", "--window", "3600s", "--semantics", "clickhouse",
                  "--mode", "strict_increase+strict_deduplication", "--format", "json"])
    assert [r["customers"] for r in rows] == [2, 1]


def test_funnel_spec_file_and_per_customer(db, tmp_path):
    spec = tmp_path / "f.json"
    spec.write_text(json.dumps({"steps": ["view", {"event": "add_to_cart", "where": [
        {"field": "props.cart_value", "op": "gt", "value": 30, "numeric": True}]}], "window_seconds": 600,
        "semantics": "posthog", "mode": "ordered"}))
    rows = _json(["--db", db, "funnel", "--spec", str(spec), "--format", "json"])
    assert [r["customers"] for r in rows] == [2, 1]
    rows = _json(["--db", db, "funnel", "--spec", str(spec), "--per-customer", "--format", "json"])
    assert {r["customer"]: r["level"] for r in rows} == {"ann": 2, "bob": 1}


def test_funnel_reads_a_peer_case_file_as_spec(db, tmp_path):
    case = json.loads(shared_path("cases/funnels/posthog_funnels.json").read_text())["cases"][0]
    spec = tmp_path / "case.json"
    spec.write_text(json.dumps(case))
    # the case is read as a spec; its events exist nowhere in this store: an error, not zeros (issue 15)
    res = runner.invoke(app, ["--db", db, "funnel", "--spec", str(spec), "--format", "json"])
    assert isinstance(res.exception, ParcoursError)
    assert "step 1: unknown event 'user signed up'; known events: add_to_cart" in str(res.exception)


def test_funnel_views(db):
    hist = _json(["--db", db, "funnel", "view", "purchase", "--window", "1h", "--view", "time-to-convert", "--format", "json"])
    assert sum(r["customers"] for r in hist) == 1
    trends = _json(["--db", db, "funnel", "view", "purchase", "--window", "1h", "--view", "trends", "--format", "json"])
    assert trends[0]["conversion_rate"] == 50.0


@pytest.mark.parametrize(("args", "message"), [
    (["funnel", "view", "--window", "7x"], "--window '7x'"),
    (["funnel", "view", "purchase", "--mode", "zigzag"], "--mode 'zigzag'"),
    (["funnel", "--window", "1d"], "at least one step"),
    (["funnel", "--spec", "/nonexistent/f.json"], "file not found"),
    (["funnel", "view", "purchase", "--view", "pie"], "--view 'pie'"),
    (["abandonment", "basket"], "unknown; use one of cart"),
    (["funnel", "view", "touchpoint:teleport", "--window", "1d"], "step 2: unknown touchpoint 'teleport'"),
    (["abandonment", "custom", "--from-step", "stage:nirvana", "--to-step", "purchase"], "unknown stage 'nirvana'"),
])
def test_cli_bad_input(db, args, message):
    res = runner.invoke(app, ["--db", db, *args])
    assert isinstance(res.exception, ParcoursError)
    assert message in str(res.exception)


def test_cli_error_is_one_line_exit_2(db):
    proc = subprocess.run([sys.executable, "-m", "parcours.cli.main", "--db", db, "funnel", "view", "--window", "soon"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not a duration" in proc.stderr


def test_abandonment_cli(db):
    summary = _json(["--db", db, "abandonment", "cart", "--window", "30m", "--format", "json"])[0]
    assert (summary["reached"], summary["abandoned"], summary["abandoned_value"]) == (2, 1, 25.5)
    people = _json(["--db", db, "abandonment", "cart", "--view", "customers", "--format", "json"])
    assert [(p["customer"], p["value"], p["went_to"]) for p in people] == [("bob", 25.5, "call_centre")]  # its touchpoint
    places = _json(["--db", db, "abandonment", "--view", "destinations", "--format", "json"])
    assert places == [{"went_to": "call_centre", "customers": 1, "share": 1.0}]
