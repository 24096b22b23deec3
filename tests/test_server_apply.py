"""Applying the collector's write-ahead log to the store: what each event row carries through.

Runs ``apply_records`` and ``replay`` on a real store (no server): the receive time and the
write key's source reach events (and the quarantine) as the request had them, however
late the log is applied.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from parcours.server.applier import applied_position, apply_records, replay
from parcours.server.wal import Position, segments, wal_dir
from parcours.server.wal_writer import WriteAheadLog


def row(mid: str, **extra) -> dict:
    return {"message_id": mid, "type": "track", "event": "product_view", "timestamp": "2024-05-01T10:00:00.000000Z",
            "received_at": "2024-05-01T10:00:02.500000Z", "user_id": "u1", "anonymous_id": None,
            "previous_id": None, "channel": "web", "utm_source": None, "utm_medium": None, "utm_campaign": None,
            "properties": {"sku": 7}, "context": {"ip": "203.0.113.0"}, **extra}


def test_received_at_and_source_come_from_the_request_not_the_apply(store, tmp_path):
    records = [{"s": "web", "e": row("m1")}, {"s": "shop", "e": row("m2", received_at="2024-05-02T08:00:00+02:00")},
               {"s": "web", "e": row("bad", timestamp="not a time")}]
    assert apply_records(store, tmp_path, records, Position(1, 100)) == 2
    got = store.con.execute(
        "SELECT message_id, received_at, source, json_extract_string(properties, '$.sku'), "
        "json_extract_string(properties, '$.received_at') FROM events ORDER BY message_id").fetchall()
    assert got == [("m1", datetime(2024, 5, 1, 10, 0, 2, 500000), "web", "7", None),
                   ("m2", datetime(2024, 5, 2, 6, 0, 0), "shop", "7", None)]
    quarantined = store.con.execute("SELECT source, reason, raw FROM quarantine").fetchall()
    assert len(quarantined) == 1
    source, reason, raw = quarantined[0]
    assert source == "web" and "not a time" in reason and '"bad"' in raw  # no staging-file path leaks
    assert applied_position(store) == Position(1, 100)
    assert not any((tmp_path / "apply").iterdir())  # the staging files are gone
    # applying again (a crash before the position was recorded) adds nothing
    assert apply_records(store, tmp_path, records, Position(1, 100)) == 0
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def test_a_row_without_received_at_gets_the_apply_time(store, tmp_path):
    """Log segments written before the receive time was carried still apply."""
    old = row("old")
    del old["received_at"]
    before = datetime.now(UTC).replace(tzinfo=None)
    assert apply_records(store, tmp_path, [{"s": "web", "e": old}], Position(1, 1)) == 1
    (received,) = store.con.execute("SELECT received_at FROM events").fetchone()
    assert received >= before.replace(microsecond=0)


def test_replay_after_a_crash_keeps_the_receive_time(store, tmp_path):
    directory = wal_dir(tmp_path / "x.duckdb")

    async def acknowledge() -> None:
        wal = WriteAheadLog(directory, lambda pos, records, nbytes: None)
        wal.start()
        await wal.append([{"s": "web", "e": row("r1")}, {"s": "web", "e": row("r2")}])
        await wal.close()  # the server dies here: nothing was applied

    asyncio.run(acknowledge())
    assert segments(directory) == [1]
    assert replay(store, directory) == 2
    got = store.con.execute("SELECT DISTINCT received_at, source FROM events").fetchall()
    assert got == [(datetime(2024, 5, 1, 10, 0, 2, 500000), "web")]
    assert replay(store, directory) == 0  # the position was recorded
