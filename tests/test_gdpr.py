"""GDPR erase/export, retention and scrubbing, on a store filled by the real importer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import load_events

from parcours.errors import ParcoursError
from parcours.server.gdpr import apply_retention, erase_person, export_person, scrub_property


def _fill(store, tmp_path):
    ts = "2024-05-01T10:00:00Z"
    events = [
        {"message_id": "1", "anonymous_id": "anon-ann", "event": "site_visit", "timestamp": ts},
        {"message_id": "2", "user_id": "ann", "anonymous_id": "anon-ann", "event": "identify", "type": "identify",
         "timestamp": ts, "properties": {"email": "Ann@Example.com"}},
        {"message_id": "3", "user_id": "ann", "event": "survey_response", "timestamp": ts,
         "properties": {"metric": "nps", "score": 3, "comment": "slow delivery"}},
        {"message_id": "4", "user_id": "ann", "event": "survey_response", "timestamp": ts,
         "properties": {"metric": "nps", "score": 42}},  # out of range: quarantined
        {"message_id": "5", "user_id": "bob", "event": "site_visit", "timestamp": ts},
        {"message_id": "6", "user_id": "ann-2", "previous_id": "ann", "event": "alias", "type": "alias",
         "timestamp": ts},
    ]
    load_events(store, events, tmp_path)
    # a table another module might add later: found by its column name, not by a list
    store.con.execute("CREATE TABLE later_scores (customer_id VARCHAR, score DOUBLE)")
    store.con.execute("INSERT INTO later_scores VALUES ('ann', 0.9), ('bob', 0.1)")


def _traces(store, needles: list[str]) -> list[str]:
    """Every (table.column) whose text holds any of ``needles``."""
    cols = store.con.execute(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c "
        "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
        "WHERE NOT t.temporary AND c.data_type IN ('VARCHAR', 'JSON', 'VARCHAR[]')"
    ).fetchall()
    found = []
    for table, col in cols:
        for needle in needles:
            n = store.con.execute(
                f'SELECT count(*) FROM "{table}" WHERE strpos(lower(CAST("{col}" AS VARCHAR)), ?) > 0', [needle]
            ).fetchone()[0]
            if n:
                found.append(f"{table}.{col}")
    return found


def test_erase_leaves_no_trace_in_any_table(store, tmp_path):
    _fill(store, tmp_path)
    assert _traces(store, ['"ann', "ann@example.com"])  # there is something to erase
    deleted = erase_person(store, "anon-ann")  # any identifier of the person will do
    assert deleted["events"] == 4 and deleted["quarantine"] == 1 and deleted["later_scores"] == 1
    assert deleted["identity_map"] >= 4
    assert _traces(store, ["anon-ann", "ann@example.com", "'ann'", '"ann"', "ann-2"]) == []
    assert store.con.execute("SELECT count(*) FROM events WHERE user_id = 'ann'").fetchone()[0] == 0
    assert store.con.execute("SELECT count(*) FROM events WHERE user_id = 'bob'").fetchone()[0] == 1
    assert store.con.execute("SELECT count(*) FROM later_scores").fetchone()[0] == 1


def test_export_holds_everything_and_only_that_person(store, tmp_path):
    _fill(store, tmp_path)
    data = export_person(store, "ann@example.com")
    assert {"ann", "anon-ann", "ann-2", "email:ann@example.com"} <= set(data["identifiers"])
    assert sorted(e["message_id"] for e in data["tables"]["events"]) == ["1", "2", "3", "6"]
    assert data["tables"]["events"][0]["properties"] is not None
    assert len(data["tables"]["quarantine"]) == 1
    assert data["tables"]["later_scores"] == [{"customer_id": "ann", "score": 0.9}]
    assert "bob" not in json.dumps(data)


def test_erase_of_an_unknown_id_deletes_nothing(store, tmp_path):
    _fill(store, tmp_path)
    assert erase_person(store, "nobody") == {}


def test_retention_deletes_only_old_events(store, tmp_path):
    now = datetime.now(UTC)
    load_events(store, [
        {"message_id": "old", "user_id": "u", "event": "e", "timestamp": (now - timedelta(days=400)).isoformat()},
        {"message_id": "new", "user_id": "u", "event": "e", "timestamp": (now - timedelta(days=2)).isoformat()},
    ], tmp_path)
    assert apply_retention(store, 365) == 1
    assert store.con.execute("SELECT message_id FROM events").fetchall() == [("new",)]
    with pytest.raises(ParcoursError, match="at least 1"):
        apply_retention(store, 0)


def test_scrub_removes_a_property_in_a_time_range_only(store, tmp_path):
    load_events(store, [
        {"message_id": "a", "user_id": "u", "event": "form_submit", "timestamp": "2024-05-01T10:00:00Z",
         "properties": {"phone": "+33 6 12", "form": "contact"}},
        {"message_id": "b", "user_id": "u", "event": "form_submit", "timestamp": "2024-06-01T10:00:00Z",
         "properties": {"phone": "+33 6 34", "form": "contact"}},
    ], tmp_path)
    changed = scrub_property(store, "phone", datetime(2024, 5, 1), datetime(2024, 5, 2))
    assert changed == 1
    got = dict(store.con.execute("SELECT message_id, properties::VARCHAR FROM events").fetchall())
    assert json.loads(got["a"]) == {"form": "contact"}
    assert json.loads(got["b"])["phone"] == "+33 6 34"
    with pytest.raises(ParcoursError):
        scrub_property(store, 'bad"name')
