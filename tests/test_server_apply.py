"""Applying the collector's write-ahead log to the store: what each event row carries through.

Runs ``apply_records`` and ``replay`` on a real store (no server): the receive time and the
write key's source reach events (and the quarantine) as the request had them, however
late the log is applied.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from parcours.server.applier import Applier, applied_position, apply_records, links, replay
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


def test_links_finds_what_stitching_acts_on():
    traits = ["email"]
    assert not links([{"s": "web", "e": row("a")}], traits)  # one identifier, no trait
    assert links([{"s": "web", "e": row("a", anonymous_id="anon-1")}], traits)  # user id and anonymous id
    assert links([{"s": "web", "e": row("a", previous_id="old")}], traits)  # an alias
    assert links([{"s": "web", "e": row("a", properties={"email": "ann@example.com"})}], traits)
    assert links([{"s": "web", "e": row("a", context={"traits": {"email": "ann@example.com"}})}], traits)
    assert not links([{"s": "web", "e": row("a", properties={"email": "ann@example.com"})}], [])  # not configured
    assert links([{"s": "web", "e": row("a")}, {"s": "web", "e": row("b", previous_id="old")}], traits)


def test_the_triggers_look_before_stitching_only_when_a_batch_links_nothing(store, tmp_path):
    """A batch that links no identifiers is looked at before stitching; one that links, after."""
    looked: list[tuple[int, int]] = []

    def stitched(_store) -> tuple[int, int]:
        batch = store.execute("SELECT max(batch_id) FROM events").fetchone()[0]
        return batch, int(store.get_meta("stitched_batch", "0"))

    async def apply() -> None:
        with ThreadPoolExecutor(max_workers=1) as db:
            applier = Applier(store, tmp_path, db, interval=0)

            async def on_loaded() -> None:
                looked.append(await asyncio.get_running_loop().run_in_executor(db, stitched, store))

            applier.on_loaded = on_loaded
            applier.add(Position(1, 10), [{"s": "web", "e": row("plain", user_id="new-user")}])
            await applier.flush()
            applier.add(Position(1, 20), [{"s": "web", "e": row("link", anonymous_id="anon-1")}])
            await applier.flush()

    asyncio.run(apply())
    (plain_batch, plain_stitched), (link_batch, link_stitched) = looked
    assert plain_stitched < plain_batch  # looked at before its stitching
    assert link_stitched == link_batch  # stitched first: the link may move customers
    # both batches are stitched once applied, and the positions recorded
    assert int(store.get_meta("stitched_batch")) == link_batch
    assert store.execute("SELECT customer_id FROM identity_map WHERE identifier = 'anon-1'").fetchone() == ("u1",)
    assert applied_position(store) == Position(1, 20)


def test_the_applier_paces_itself_only_while_a_backlog_builds(store, tmp_path):
    with ThreadPoolExecutor(max_workers=1) as db:
        applier = Applier(store, tmp_path, db, pace_events=100, pace_bytes=1000)
        assert not applier.backlog_building()
        applier.add(Position(1, 1), [{"s": "web", "e": row(f"m{i}")} for i in range(99)], nbytes=999)
        assert not applier.backlog_building()
        applier.add(Position(1, 2), [{"s": "web", "e": row("m99")}], nbytes=0)
        assert applier.backlog_building()  # 100 events
        by_bytes = Applier(store, tmp_path, db, pace_events=100, pace_bytes=1000)
        by_bytes.add(Position(1, 1), [{"s": "web", "e": row("big")}], nbytes=1000)
        assert by_bytes.backlog_building()  # 1 event, but 1000 bytes of log
        assert Applier(store, tmp_path, db).backlog_building()  # no bounds given: always paces
        asyncio.run(applier.flush())  # the 100 events applied: none wait, but the last application took 100
        assert applier.queue_depth == 0 and applier.backlog_building()
