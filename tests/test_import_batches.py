"""How the importer batches and dedupes: Parquet read by DuckDB in row-group ranges (and by
pyarrow where that does not suit), and the duplicate check's scope."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import parcours
from parcours.ingest import importer, readers

KEY = ["user_id", "event", "timestamp"]


def _table(n: int) -> pa.Table:
    """Every kind of column a Parquet file may hold, NULLs included."""
    return pa.table({
        "user_id": [f"u{i % 4}" for i in range(n)],
        "event": ["view" if i % 3 else "buy" for i in range(n)],
        "timestamp": pa.array([1_700_000_000_000_000 + i * 1_000_123 for i in range(n)], pa.timestamp("us", tz="UTC")),
        "price": [None if i % 5 == 0 else i * 1.25 for i in range(n)],
        "qty": pa.array([i % 7 for i in range(n)], pa.int16()),
        "gift": [i % 2 == 0 for i in range(n)],
        "day": [dt.date(2024, 1, 1 + i % 28) for i in range(n)],
        "tags": [["a", "b"][: i % 3] for i in range(n)],
        "note": [None if i % 4 == 0 else f"n{i // 2}" for i in range(n)],  # repeats: identical rows
    })


def _rows(store) -> list[tuple]:
    return store.con.execute(
        "SELECT message_id, type, event, timestamp, anonymous_id, user_id, channel, properties FROM events "
        "ORDER BY message_id"
    ).fetchall()


def test_parquet_read_by_duckdb_and_by_pyarrow_give_the_same_events(store, tmp_path, monkeypatch):
    """DuckDB's reading (the fast path) and pyarrow's (the path earlier versions took) must give
    the same ids and values, or a re-import into a store built before would add rows again."""
    table = pa.concat_tables([_table(40), _table(40)])  # every row twice: repeat numbers across row groups
    path = tmp_path / "e.parquet"
    pq.write_table(table, path, row_group_size=16)
    monkeypatch.setattr(readers, "BATCH_ROWS", 30)
    names, batches = readers.read_parquet(path)
    assert all(isinstance(b, readers.ParquetRows) for b in batches)
    by_duckdb = parcours.import_file(store, path)

    monkeypatch.setattr(readers, "BATCH_ROWS", 3)  # row groups of 16 > 4 x 3: pyarrow slices them
    names, batches = readers.read_parquet(path)
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    with parcours.open(tmp_path / "other.duckdb") as other:
        by_pyarrow = parcours.import_file(other, path)
        assert (by_duckdb.loaded, by_pyarrow.loaded) == (80, 80)
        assert _rows(store) == _rows(other)
        props = json.loads(store.con.execute("SELECT properties FROM events WHERE properties LIKE '%tags%' "
                                             "ORDER BY timestamp LIMIT 1").fetchone()[0])
        assert set(props) == {"price", "qty", "gift", "day", "tags", "note"}
        # either store, re-importing with the other reader adds nothing
        assert parcours.import_file(other, path).duplicates == 80
    monkeypatch.setattr(readers, "BATCH_ROWS", 30)
    assert parcours.import_file(store, path).duplicates == 80


def test_parquet_batches_are_whole_row_groups_and_rows_are_numbered_in_the_file(store, tmp_path, monkeypatch):
    table = _table(50)
    table = table.set_column(0, "user_id", pa.array([None if i == 37 else f"u{i}" for i in range(50)]))
    path = tmp_path / "e.parquet"
    pq.write_table(table, path, row_group_size=10)
    monkeypatch.setattr(readers, "BATCH_ROWS", 25)
    s = parcours.import_file(store, path)
    assert (s.loaded, s.quarantined) == (49, 1)
    spans = store.con.execute("SELECT first_row, last_row FROM imports ORDER BY batch_id").fetchall()
    assert spans == [(1, 20), (21, 40), (41, 50)]  # as many whole row groups as fit in 25 rows
    store.con.execute("DELETE FROM events")
    monkeypatch.setattr(readers, "BATCH_ROWS", 8)  # a row group larger than a batch is a batch
    assert parcours.import_file(store, path).loaded == 49
    spans = store.con.execute("SELECT first_row, last_row FROM imports WHERE batch_id > 3 ORDER BY batch_id").fetchall()
    assert spans == [(1, 10), (11, 20), (21, 30), (31, 40), (41, 50)]
    assert store.con.execute("SELECT row_number, reason FROM quarantine").fetchone() == (
        38, "missing user_id and anonymous_id (at least one is needed)")


def test_parquet_with_a_column_named_file_row_number(store, tmp_path):
    """DuckDB's row number would clash with it: pyarrow reads the file, the column stays a property."""
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user_id": ["u", "v"], "event": ["a", "b"],
                             "timestamp": ["2024-01-01T00:00:00Z"] * 2, "file_row_number": [7, 9]}), path)
    names, batches = readers.read_parquet(path)
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert parcours.import_file(store, path).loaded == 2
    props = store.con.execute("SELECT properties FROM events ORDER BY user_id").fetchall()
    assert [json.loads(p[0]) for p in props] == [{"file_row_number": 7}, {"file_row_number": 9}]


def _csv(path, rows: list[str]):
    path.write_text("user_id,event,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_rows_stored_before_by_another_file_are_duplicates(store, tmp_path):
    """Derived ids depend on the content only: a row already stored from another file is not added again."""
    _csv(tmp_path / "a.csv", ["u1,view,2024-01-01T00:00:00Z", "u2,view,2024-01-01T00:00:00Z"])
    _csv(tmp_path / "b.csv", ["u2,view,2024-01-01T00:00:00Z", "u3,buy,2024-01-02T00:00:00Z"])
    assert parcours.import_file(store, tmp_path / "a.csv").loaded == 2
    s = parcours.import_file(store, tmp_path / "b.csv")
    assert (s.loaded, s.duplicates) == (1, 1)
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_rows_another_writer_stores_during_an_import_are_duplicates(store, tmp_path, monkeypatch):
    """The duplicate check skips only this import's own batches: a batch another connection to the
    same store commits meanwhile is checked like the events stored before."""
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 128)  # a few rows per batch
    rows = [f"u{i},view,2024-01-01T00:00:{i:02d}Z" for i in range(40)]
    mine = _csv(tmp_path / "mine.csv", rows)
    theirs = _csv(tmp_path / "theirs.csv", [rows[-1]])
    other = parcours.open(store.path)  # the same database, another connection
    real, calls = importer._stage_batch, []

    def stage_then_let_the_other_write(con, batch):
        calls.append(batch)
        if len(calls) == 2:
            assert parcours.import_file(other, theirs, stitch=False).loaded == 1
        return real(con, batch)

    monkeypatch.setattr(importer, "_stage_batch", stage_then_let_the_other_write)
    s = parcours.import_file(store, mine, stitch=False)
    other.close()
    assert len(calls) > 2
    assert (s.loaded, s.duplicates) == (39, 1)
    assert store.con.execute("SELECT count(*), count(DISTINCT message_id) FROM events").fetchone() == (40, 40)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_first_import_checks_no_ids_yet_dedupes_a_second(store, tmp_path, fmt):
    """An empty store needs no duplicate check; the same file again is all duplicates."""
    path = tmp_path / f"e.{fmt}"
    table = pa.table({"user_id": ["u", "u", "v"], "event": ["a", "a", "b"],
                      "timestamp": ["2024-01-01T00:00:00Z"] * 3})
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    assert importer._DedupScope(None, source_ids=False).condition(store.con) is None
    first = parcours.import_file(store, path)
    assert (first.loaded, first.duplicates) == (3, 0)
    again = parcours.import_file(store, path)
    assert (again.loaded, again.duplicates) == (0, 3)


def test_unusual_parquet_types_give_the_same_ids_and_properties_either_way(store, tmp_path, monkeypatch):
    """Nanosecond and naive timestamps, decimals, bytes, maps, structs, dictionaries, an all-NULL
    column: DuckDB's reading turns each into the same text (ids) and JSON (properties) as pyarrow's."""
    import decimal

    n = 6
    table = pa.table({
        "user_id": [f"u{i % 2}" for i in range(n)], "event": ["e"] * n,
        "timestamp": pa.array([1_700_000_000_000_000_000 + i for i in range(n)], pa.timestamp("ns", tz="UTC")),
        "at": pa.array([dt.time(1, 2, 3)] * n), "amount": pa.array([decimal.Decimal("1.25")] * n, pa.decimal128(10, 2)),
        "raw": pa.array([b"\x00\x01"] * n), "code": pa.array([b"ab"] * n, pa.binary(2)),
        "counts": pa.array([[("k", 1)]] * n, pa.map_(pa.string(), pa.int64())),
        "info": pa.array([{"a": 1, "b": "x"}] * n), "kind": pa.array(["x", "y", "x"] * 2).dictionary_encode(),
        "nothing": pa.nulls(n), "text": pa.array(["big"] * n, pa.large_string()),
        "local": pa.array([1_700_000_000_000_000_001] * n, pa.timestamp("ns")),
        "small": pa.array([250] * n, pa.uint8()), "ratio": pa.array([1.5] * n, pa.float32()),
    })
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    assert parcours.import_file(store, path).loaded == n
    monkeypatch.setattr(readers, "BATCH_ROWS", 1)  # row groups of 6 > 4 x 1: pyarrow's reading
    with parcours.open(tmp_path / "other.duckdb") as other:
        assert parcours.import_file(other, path).loaded == n
        assert _rows(store) == _rows(other)
    props = json.loads(_rows(store)[0][-1])
    assert props["counts"] == {"k": 1} and props["info"] == {"a": 1, "b": "x"} and props["nothing"] is None


def test_importing_parquet_prints_no_warning(store, tmp_path):
    """Reading a batch's schema makes DuckDB warn of an extra Arrow copy when done on a DB-API
    result; the importer reads it as a relation, so users see no warning on import."""
    import warnings

    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user_id": ["u", "v"], "event": ["a", "b"],
                             "timestamp": ["2024-01-01T00:00:00Z"] * 2}), path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parcours.import_file(store, path, stitch=False).loaded == 2
    assert [str(w.message) for w in caught if "Arrow" in str(w.message)] == []
