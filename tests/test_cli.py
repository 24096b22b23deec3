"""The command line: help everywhere, --format on data commands, stable JSON keys, clean errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os

import duckdb
import pytest
import typer
from clirun import run

from parcours.cli.main import app

EVENTS = [
    {"anonymous_id": "a1", "event": "ad_click", "timestamp": "2024-01-01T10:00:00Z", "utm_campaign": "spring"},
    {"anonymous_id": "a1", "user_id": "ann", "type": "identify", "timestamp": "2024-01-01T10:05:00Z",
     "properties": {"email": "Ann@Example.com"}},
    {"user_id": "ann", "event": "purchase", "timestamp": "2024-01-01T11:00:00Z", "properties": {"revenue": 30}},
    {"user_id": "bob", "event": "product_view", "timestamp": "2024-01-02T11:00:00Z"},
    {"user_id": "bob", "event": "teleport", "timestamp": "2024-01-02T11:00:00Z"},
    {"user_id": "bob", "event": "site_visit", "timestamp": "yesterday"},
]


def all_commands(group=None, path=()):
    group = group or typer.main.get_command(app)
    for name, sub in getattr(group, "commands", {}).items():
        yield (*path, name)
        yield from all_commands(sub, (*path, name))


@pytest.mark.parametrize("command", [(), *all_commands()], ids=lambda c: " ".join(c) or "parcours")
def test_every_command_has_help(capsys, command):
    r = run(capsys, *command, "--help")
    assert r.code == 0, r.err
    assert "Usage:" in r.out


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    db = tmp_path / "s.duckdb"
    r = run(capsys, "--db", db, "import", path, "--format", "json")
    assert r.code == 0, r.err
    assert {k: r.json()[k] for k in ("loaded", "quarantined", "duplicates")} == \
        {"loaded": 5, "quarantined": 1, "duplicates": 0}
    return db


def test_import_json_keys_and_reimport(db, tmp_path, capsys):
    again = run(capsys, "--db", db, "import", tmp_path / "events.jsonl", "--format", "json").json()
    assert {k: again[k] for k in ("loaded", "quarantined", "duplicates")} == {"loaded": 0, "quarantined": 1,
                                                                             "duplicates": 5}
    table = run(capsys, "--db", db, "import", tmp_path / "events.jsonl")
    assert "0 loaded, 1 quarantined, 5 skipped as duplicates" in table.out


def test_stats_json_keys(db, capsys):
    stats = run(capsys, "--db", db, "stats", "--format", "json").json()
    assert stats["events"] == 5 and stats["customers"] == 2 and stats["quarantined"] == 1
    assert stats["unmapped_events"] == 1  # teleport; identify is ignored on purpose
    assert stats["events_by_name"] == {"ad_click": 1, "identify": 1, "purchase": 1, "product_view": 1, "teleport": 1}


DATA_COMMANDS = [
    ("quarantine",), ("summary",), ("customer", "ann@example.com"), ("journey", "show"),
    ("journey", "unmapped"), ("identity", "merges"),
]


@pytest.mark.parametrize("command", DATA_COMMANDS, ids=" ".join)
def test_data_commands_print_table_csv_and_json(db, capsys, command):
    for fmt in ("table", "csv", "json"):
        r = run(capsys, "--db", db, *command, "--format", fmt)
        assert r.code == 0, (fmt, r.err)
        assert r.out.strip()
        if fmt == "json":
            data = r.json()
            rows = data if isinstance(data, list) else data.get("stages", data.get("timeline"))
            assert isinstance(rows, list) and all(isinstance(x, dict) for x in rows)
        if fmt == "csv":
            assert list(csv.reader(io.StringIO(r.out)))[0]


def test_quarantine_lists_file_row_reason_raw(db, tmp_path, capsys):
    rows = run(capsys, "--db", db, "quarantine", "--format", "json").json()
    assert len(rows) == 1
    assert rows[0]["source"] == str(tmp_path / "events.jsonl") and rows[0]["row_number"] == 6
    assert "cannot read timestamp yesterday" in rows[0]["reason"]
    assert json.loads(rows[0]["raw"])["event"] == "site_visit"


def test_quarantine_source_and_limit_narrow_the_list(db, tmp_path, capsys):
    """--source keeps one file's rows (another file's name: none), --limit caps them (0: all)."""
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"user_id": "x", "event": "e", "timestamp": t}) + "\n"
                             for t in ("nope", "never", "2024-01-01T00:00:00Z")))
    run(capsys, "--db", db, "import", other, "--format", "json")

    def listed(*args):
        return [(r["source"], r["row_number"]) for r in run(capsys, "--db", db, "quarantine", "--format", "json",
                                                            *args).json()]

    mine = str(tmp_path / "events.jsonl")
    assert listed() == [(mine, 6), (str(other), 1), (str(other), 2)]
    assert listed("--source", str(other)) == [(str(other), 1), (str(other), 2)]
    assert listed("--source", str(other), "--limit", "1") == [(str(other), 1)]
    assert listed("--limit", "0") == listed("--limit", "3") == listed()
    assert listed("--source", "nowhere.csv") == []


def test_customer_by_any_identifier(db, capsys):
    for ident in ("ann", "a1", "ann@example.com", "email:ann@example.com", "ANN@example.com"):
        profile = run(capsys, "--db", db, "customer", ident, "--format", "json").json()
        assert profile["customer"] == "ann", ident
    assert [t["event"] for t in profile["timeline"]] == ["ad_click", "identify", "purchase"]
    assert profile["furthest_stage"] == "decision"
    missing = run(capsys, "--db", db, "customer", "nobody")
    assert missing.code == 2 and missing.err.strip() == "error: customer 'nobody': no customer has this identifier"


def test_customer_lookup_does_not_treat_underscore_as_a_wildcard(db, tmp_path, capsys):
    r = run(capsys, "--db", db, "customer", "ann_example.com")
    assert r.code == 2


def test_summary_json(db, capsys):
    summary = run(capsys, "--db", db, "summary", "--format", "json").json()
    assert summary["events"] == 5 and summary["customers"] == 2
    assert [s["stage"] for s in summary["stages"]][:3] == ["awareness", "consideration", "decision"]
    assert summary["stages"][2]["reached"] == 1


def store_counts(db) -> tuple:
    if not os.path.exists(db):
        return (0, 0, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine), "
                           "(SELECT count(*) FROM imports)").fetchone()
    finally:
        con.close()


def one_line_error(r) -> str:
    assert r.code == 2, (r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err
    return lines[0]


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    good = tmp_path / "good.csv"
    good.write_text("user_id,event,timestamp\nu,e,2024-01-01T00:00:00Z\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    corrupt = tmp_path / "broken.csv.gz"
    corrupt.write_bytes(gzip.compress(b"user_id,event,timestamp\n" * 50)[:40])
    cases = [
        (("import", tmp_path / "missing.csv"), "missing.csv: no such file"),
        (("import", tmp_path), "not a file"),
        (("import", empty), "empty.csv: the file is empty"),
        (("import", corrupt), "broken.csv.gz: cannot read"),
        (("import", good, "--as", "parquet"), "good.csv: not a readable Parquet file"),
        (("import", good, "--as", "excel"), "--as excel: unknown format"),
        (("import", good, "--map", "user_id=visitor"), "--map user_id=visitor: "),
        (("import", good, "--map", "colour=event"), "unknown field 'colour'"),
        (("import", good, "--timestamp-format", "%Q"), "--timestamp-format '%Q'"),
        (("import", good, "--timezone", "Nowhere/City"), "--timezone 'Nowhere/City'"),
        (("import", good, "--no-header"), "--no-header needs --columns"),
        (("journey", "set", tmp_path / "none.toml"), "none.toml: journey file not found"),
    ]
    for i, (args, message) in enumerate(cases):
        line = one_line_error(run(capsys, "--db", db, *args))
        assert message in line, (args, line)
        if i < 3:  # the path itself is refused before any store is created
            assert not db.exists(), args
        assert store_counts(db) == (0, 0, 0), args


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "secret.csv"
    path.write_text("user_id,event,timestamp\n")
    path.chmod(0)
    assert "cannot read the file" in one_line_error(run(capsys, "--db", tmp_path / "s.duckdb", "import", path))


def test_bad_journey_config_keeps_the_store_unchanged(db, tmp_path, capsys):
    bad = tmp_path / "j.toml"
    bad.write_text('[[stages]]\nname = "a"\n[[touchpoints]]\nname = "t"\nstage = "b"\nchannel = "web"\nmatch = "x"\n')
    line = one_line_error(run(capsys, "--db", db, "journey", "set", bad))
    assert "j.toml: " in line and "stage 'b' is not one of the stages" in line
    assert len(run(capsys, "--db", db, "journey", "show", "--format", "json").json()) == 21


def test_read_commands_on_a_missing_store(tmp_path, capsys):
    line = one_line_error(run(capsys, "--db", tmp_path / "none.duckdb", "stats"))
    assert "none.duckdb: no such store" in line
    assert not (tmp_path / "none.duckdb").exists()


def test_identity_commands(tmp_path, capsys):
    db = tmp_path / "s.duckdb"
    for i, rows in enumerate([[{"anonymous_id": "d", "event": "site_visit", "timestamp": "2024-01-01T00:00:00Z"}],
                              [{"anonymous_id": "d", "user_id": "u", "event": "site_visit",
                                "timestamp": "2024-01-02T00:00:00Z"}]]):
        path = tmp_path / f"{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert run(capsys, "--db", db, "import", path).code == 0
    merges = run(capsys, "--db", db, "identity", "merges", "--format", "json").json()
    assert [(m["merge_id"], m["action"], m["customer_id"], m["merged_ids"]) for m in merges] == \
        [(1, "merge", "u", ["d", "u"])]
    r = run(capsys, "--db", db, "identity", "unmerge", "1")
    assert r.code == 0 and "merge 1 undone: customers d, u" in r.out
    assert "merge 1 is already undone" in one_line_error(run(capsys, "--db", db, "identity", "unmerge", "1"))
    assert "merge 7: no such merge" in one_line_error(run(capsys, "--db", db, "identity", "unmerge", "7"))
    assert run(capsys, "--db", db, "identity", "rebuild").code == 0
    assert run(capsys, "--db", db, "customer", "d", "--format", "json").json()["customer"] == "d"
