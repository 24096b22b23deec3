"""Events with the same timestamp keep the order in which they were recorded (``arrival_seq``).

Files: the row order (across the import's batches too); the collector: the order of arrival;
stores from before the column: their stored row order per batch. And a store whose journey
map maps none of the events: path analyses fall back to event level, with a note.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from clirun import run
from conftest import load_events

import parcours
from parcours.analytics.paths.paths import dfg, flows, top_paths
from parcours.ingest import readers
from parcours.journey.profiles import customer_profile
from parcours.server.applier import apply_records
from parcours.server.wal import Position
from parcours.store.schema import ARRIVAL_STRIDE

T0, T1 = "2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z"
#: recorded in an order that is neither alphabetical nor by message id
NAMES = ["zeta", "alpha", "mu"]


def _edges(store) -> dict[tuple[str, str], int]:
    return {(r.source, r.target): r.count for r in dfg(store, by="event").itertuples()}


def test_same_time_events_keep_the_file_order(store, tmp_path):
    events = [{"user_id": "x", "event": n, "timestamp": T0, "message_id": f"m{9 - i}"} for i, n in enumerate(NAMES)]
    load_events(store, [*events, {"user_id": "x", "event": "end", "timestamp": T1}], tmp_path)
    assert _edges(store) == {("zeta", "alpha"): 1, ("alpha", "mu"): 1, ("mu", "end"): 1}
    assert list(top_paths(store, by="event")["path"]) == ["zeta > alpha > mu > end"]
    assert list(flows(store, by="event")["source"]) == ["zeta", "alpha", "mu", "end"]
    assert list(customer_profile(store, "x").timeline["event"]) == [*NAMES, "end"]


def test_the_order_holds_across_an_imports_batches(store, tmp_path, monkeypatch):
    names = ["d", "c", "b", "a", "e"]
    table = pa.table({"user_id": ["x"] * 5, "event": names, "timestamp": [T0] * 5})
    pq.write_table(table, tmp_path / "e.parquet", row_group_size=1)
    monkeypatch.setattr(readers, "BATCH_ROWS", 1)  # one batch (and batch id) per row
    parcours.import_file(store, tmp_path / "e.parquet")
    batches = store.con.execute("SELECT count(DISTINCT batch_id) FROM events").fetchone()[0]
    assert batches == 5
    assert list(top_paths(store, by="event")["path"]) == ["d > c > b > a > e"]


def test_the_collector_keeps_the_order_of_arrival(store, tmp_path):
    def rec(mid: str, event: str) -> dict:
        return {"s": "web", "e": {"message_id": mid, "type": "track", "event": event, "timestamp": T0,
                                  "received_at": T0, "user_id": "x"}}
    apply_records(store, tmp_path, [rec("m3", "zeta"), rec("m2", "alpha")], Position(1, 10))
    apply_records(store, tmp_path, [rec("m1", "mu")], Position(1, 20))
    assert list(top_paths(store, by="event")["path"]) == ["zeta > alpha > mu"]


def test_a_store_from_before_the_sequence_gets_its_stored_row_order(tmp_path):
    db = tmp_path / "old.duckdb"
    with parcours.open(db) as store:
        events = [{"user_id": "x", "event": n, "timestamp": T0} for n in NAMES]
        load_events(store, events, tmp_path)
        # the store as migration 5 finds it: no column, migration not recorded
        store.con.execute("ALTER TABLE events DROP COLUMN arrival_seq")
        store.con.execute("DELETE FROM schema_migrations WHERE version = 5")
    with parcours.open(db) as store:
        batch, = store.con.execute("SELECT DISTINCT batch_id FROM events").fetchone()
        seqs = store.con.execute("SELECT event, arrival_seq FROM events ORDER BY rowid").fetchall()
        assert seqs == [(n, batch * ARRIVAL_STRIDE + i + 1) for i, n in enumerate(NAMES)]
        assert list(top_paths(store, by="event")["path"]) == ["zeta > alpha > mu"]


def _unmapped(tmp_path):
    """A store whose (default) journey map maps none of its events, as with a process-mining log."""
    db = tmp_path / "log.duckdb"
    with parcours.open(db) as store:
        load_events(store, [{"user_id": "c1", "event": "register", "timestamp": T0},
                            {"user_id": "c1", "event": "approve", "timestamp": T1},
                            {"user_id": "c2", "event": "register", "timestamp": T0}], tmp_path)
    return db


def test_paths_on_an_unmapped_store_fall_back_to_event_level(tmp_path, capsys):
    db = _unmapped(tmp_path)
    res = run(capsys, "--db", db, "paths", "--dfg", "--format", "json")
    assert res.code == 0, res.err
    assert [(r["source"], r["target"], r["count"]) for r in res.json()] == [("register", "approve", 1)]
    assert res.err.count("\n") == 1 and "--by event" in res.err and "parcours journey set" in res.err
    res = run(capsys, "--db", db, "paths")
    assert res.code == 0 and "register > approve" in res.out and "showing event level" in res.err
    with parcours.open(db) as store:
        assert "showing event level" in dfg(store).attrs["note"]
        assert "note" not in dfg(store, by="event").attrs


def test_step_analyses_that_cannot_fall_back_say_how_to_map(tmp_path, capsys):
    db = _unmapped(tmp_path)
    for args in (["stages"], ["funnel", "touchpoint:web_page", "touchpoint:cart"]):
        res = run(capsys, "--db", db, *args)
        assert res.code == 2, (args, res.out)
        assert res.err.count("\n") == 1 and "--by event" in res.err and "parcours journey set" in res.err
