"""Importing files: formats, mapping, timestamps, quarantine, idempotence, batches."""

from __future__ import annotations

import gzip
import json
import tomllib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w
from conftest import load_events

import parcours
from parcours.config import template_text
from parcours.errors import ParcoursError
from parcours.ingest import readers


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def events(store, order: str = "timestamp, message_id") -> list[dict]:
    return store.con.execute(f"SELECT * FROM events ORDER BY {order}").df().to_dict("records")


def imp(store, path, maps=(), sets=(), **kw):
    # these files are mostly bad rows on purpose: the failed-import limit is tested in test_import_explains
    kw.setdefault("max_quarantined", None)
    return parcours.import_file(store, path, mapping=parcours.Mapping.parse(list(maps), list(sets)), **kw)


CSV = "uid,what,ts,price\nu1,view,2024-01-01T10:00:00Z,\nu2,buy,2024-01-01T11:00:00+02:00,9.5\n"


# -- formats ---------------------------------------------------------------------------------------


def test_csv_with_mapping_constants_and_leftover_properties(store, tmp_path):
    path = write(tmp_path / "a.csv", CSV)
    s = imp(store, path, ["user_id=uid", "event=what", "timestamp=ts"], ["channel=web", "properties.shop=paris"])
    assert (s.loaded, s.quarantined, s.duplicates, s.rows) == (2, 0, 0, 2)
    rows = events(store)
    assert [r["event"] for r in rows] == ["buy", "view"]  # 09:00 UTC before 10:00 UTC
    assert {r["channel"] for r in rows} == {"web"}
    buy = json.loads(rows[0]["properties"])
    assert buy == {"price": "9.5", "shop": "paris"}
    assert str(rows[0]["timestamp"]) == "2024-01-01 09:00:00"


def test_csv_gzip_and_format_from_option(store, tmp_path):
    path = tmp_path / "a.data"
    path.write_bytes(gzip.compress(CSV.encode()))
    s = imp(store, path, ["user_id=uid", "event=what", "timestamp=ts"], fmt="csv")
    assert s.loaded == 2


def test_properties_name_mapping_and_properties_json_column(store, tmp_path):
    path = write(
        tmp_path / "p.csv",
        'uid,ev,ts,props,amount\nu1,buy,2024-01-01T00:00:00Z,"{""color"": ""red"", ""n"": 2}",12\n',
    )
    imp(store, path, ["user_id=uid", "event=ev", "timestamp=ts", "properties=props", "properties.revenue=amount"])
    props = json.loads(events(store)[0]["properties"])
    assert props == {"color": "red", "n": 2, "revenue": "12"}


def test_properties_column_that_is_not_an_object_is_quarantined(store, tmp_path):
    path = write(tmp_path / "p.csv", 'uid,ev,ts,props\nu1,buy,2024-01-01T00:00:00Z,"[1, 2]"\n')
    s = imp(store, path, ["user_id=uid", "event=ev", "timestamp=ts", "properties=props"])
    assert (s.loaded, s.quarantined) == (0, 1)
    reason = store.con.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "props" in reason and "JSON object" in reason


def test_jsonl_with_nested_properties(store, tmp_path):
    s = load_events(
        store,
        [{"anonymous_id": "a1", "event": "site_visit", "timestamp": "2024-03-01T08:00:00+01:00",
          "properties": {"page": "/", "n": 3}, "utm_campaign": "spring"}],
        tmp_path,
    )
    assert s.loaded == 1
    row = events(store)[0]
    assert row["anonymous_id"] == "a1" and row["utm_campaign"] == "spring"
    assert json.loads(row["properties"]) == {"page": "/", "n": 3}
    assert str(row["timestamp"]) == "2024-03-01 07:00:00"


def test_jsonl_gzip(store, tmp_path):
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"user_id": "u", "event": "x", "timestamp": "2024-01-01T00:00:00Z"}\n'))
    assert imp(store, path).loaded == 1


def test_jsonl_bad_lines_are_quarantined_with_their_line_number(store, tmp_path):
    path = write(
        tmp_path / "e.jsonl",
        '{"user_id": "u", "event": "x", "timestamp": "2024-01-01T00:00:00Z"}\n'
        "\n"
        "{not json\n"
        "[1, 2]\n",
    )
    s = imp(store, path)
    assert (s.loaded, s.quarantined) == (1, 2)
    q = store.con.execute("SELECT row_number, reason, raw, source FROM quarantine ORDER BY 1").fetchall()
    assert [r[0] for r in q] == [3, 4]
    assert q[0][1].startswith("malformed JSON") and q[0][2] == "{not json"
    assert q[1][1] == "line is not a JSON object"
    assert q[0][3] == str(path)


def test_parquet_with_typed_columns(store, tmp_path):
    table = pa.table({
        "user": ["u1", "u2"],
        "event": ["a", "b"],
        "ts": pa.array([1_700_000_000_000, 1_700_000_060_000], pa.timestamp("ms", tz="Europe/Paris")),
        "value": [1.5, 2.0],
    })
    pq.write_table(table, tmp_path / "e.parquet")
    s = imp(store, tmp_path / "e.parquet", ["user_id=user", "timestamp=ts"])
    assert s.loaded == 2
    rows = events(store)
    assert str(rows[0]["timestamp"]) == "2023-11-14 22:13:20"
    assert json.loads(rows[1]["properties"]) == {"value": 2.0}


def test_parquet_naive_timestamps_need_a_timezone(store, tmp_path):
    table = pa.table({"user_id": ["u"], "event": ["a"], "timestamp": pa.array([0], pa.timestamp("s"))})
    pq.write_table(table, tmp_path / "e.parquet")
    with pytest.raises(ParcoursError, match="without a time zone: pass --timezone"):
        imp(store, tmp_path / "e.parquet")
    assert imp(store, tmp_path / "e.parquet", timezone="America/New_York").loaded == 1
    assert str(events(store)[0]["timestamp"]) == "1970-01-01 05:00:00"


def test_xes_plain_and_gzipped(store, tmp_path):
    xes = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <trace><string key="concept:name" value="case1"/><float key="AMOUNT" value="500"/>
    <event><string key="concept:name" value="submit"/><date key="time:timestamp" value="2012-01-01T10:00:00.000+01:00"/>
      <string key="org:resource" value="112"/></event>
    <event><string key="concept:name" value="approve"/><date key="time:timestamp" value="2012-01-02T10:00:00.000+01:00"/></event>
  </trace>
  <trace><string key="concept:name" value="case2"/>
    <event><string key="concept:name" value="submit"/><date key="time:timestamp" value="2012-01-03T10:00:00.000+01:00"/></event>
  </trace>
</log>"""
    write(tmp_path / "log.xes", xes)
    (tmp_path / "log2.xes.gz").write_bytes(gzip.compress(xes.encode()))
    assert imp(store, tmp_path / "log.xes").loaded == 3
    rows = events(store)
    assert [(r["user_id"], r["event"]) for r in rows] == [("case1", "submit"), ("case1", "approve"), ("case2", "submit")]
    assert json.loads(rows[0]["properties"]) == {"case:AMOUNT": "500", "org:resource": "112"}
    assert str(rows[0]["timestamp"]) == "2012-01-01 09:00:00"
    # the same log gzipped has the same rows, hence the same ids: nothing new
    s = imp(store, tmp_path / "log2.xes.gz")
    assert (s.loaded, s.duplicates) == (0, 3)


# -- timestamps ------------------------------------------------------------------------------------


def _ts_file(tmp_path, values: list[str]):
    lines = ["user_id,event,timestamp"] + [f"u,e{i},{v}" for i, v in enumerate(values)]
    return write(tmp_path / "ts.csv", "\n".join(lines) + "\n")


def test_iso_offsets_convert_to_utc(store, tmp_path):
    path = _ts_file(tmp_path, ["2024-06-01T12:00:00+02:00", "2024-06-01 12:00:00Z", "2024-06-01T12:00:00-0530"])
    assert imp(store, path).loaded == 3
    got = sorted(str(r["timestamp"]) for r in events(store))
    assert got == ["2024-06-01 10:00:00", "2024-06-01 12:00:00", "2024-06-01 17:30:00"]


def test_utc_timestamps_and_their_lookalikes(store, tmp_path):
    """The fast path for '...Z' must agree with the general parser, and refuse what it refuses."""
    path = write(
        tmp_path / "z.csv",
        "user_id,event,timestamp\nu,a,2024-01-01T10:00:00.5Z\nu,b,2024-01-01 10:00:00z\n"
        "u,c,2024-01-01T10:00:00+02:00Z\nu,d,2024-13-01T10:00:00Z\nu,e,2024-01-01T10:00:00-0130\n",
    )
    s = imp(store, path)
    assert (s.loaded, s.quarantined) == (2, 3)
    got = {r["event"]: str(r["timestamp"]) for r in events(store)}
    assert got == {"a": "2024-01-01 10:00:00.500000", "e": "2024-01-01 11:30:00"}
    reasons = [r[0] for r in store.con.execute("SELECT reason FROM quarantine ORDER BY row_number").fetchall()]
    assert reasons == ["cannot read timestamp 2024-01-01 10:00:00z in column timestamp as ISO 8601",
                       "cannot read timestamp 2024-01-01T10:00:00+02:00Z in column timestamp as ISO 8601",
                       "cannot read timestamp 2024-13-01T10:00:00Z in column timestamp as ISO 8601"]


def test_naive_iso_is_quarantined_without_timezone_and_converted_with_one(store, tmp_path):
    path = _ts_file(tmp_path, ["2024-01-15 12:00:00"])
    s = imp(store, path)
    assert (s.loaded, s.quarantined) == (0, 1)
    assert "no UTC offset: pass --timezone" in store.con.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert imp(store, path, timezone="Europe/Paris").loaded == 1
    assert str(events(store)[0]["timestamp"]) == "2024-01-15 11:00:00"


def test_strftime_pattern(store, tmp_path):
    path = _ts_file(tmp_path, ["20240115", "2024-01-15"])
    s = imp(store, path, timestamp_format="%Y%m%d", timezone="UTC")
    assert (s.loaded, s.quarantined) == (1, 1)
    assert "as %Y%m%d" in store.con.execute("SELECT reason FROM quarantine").fetchone()[0]


def test_strftime_pattern_with_offset_needs_no_timezone(store, tmp_path):
    path = _ts_file(tmp_path, ["15/01/2024 10:00 +0100"])
    assert imp(store, path, timestamp_format="%d/%m/%Y %H:%M %z").loaded == 1
    assert str(events(store)[0]["timestamp"]) == "2024-01-15 09:00:00"


def test_unix_and_unix_ms(store, tmp_path):
    path = _ts_file(tmp_path, ["1700000000", "1700000000.5"])
    assert imp(store, path, timestamp_format="unix").loaded == 2
    assert str(events(store)[0]["timestamp"]) == "2023-11-14 22:13:20"
    path = write(tmp_path / "ms.csv", "user_id,event,timestamp\nv,e,1700000000123\n")
    assert imp(store, path, timestamp_format="unix_ms").loaded == 1
    ts = store.con.execute("SELECT timestamp FROM events WHERE user_id = 'v'").fetchone()[0]
    assert str(ts) == "2023-11-14 22:13:20.123000"


@pytest.mark.parametrize("fmt", ["unix_s", "YYYY-MM-DD", "%Q", ""])
def test_bad_timestamp_format_is_refused_before_reading(store, tmp_path, fmt):
    path = _ts_file(tmp_path, ["1700000000"])
    with pytest.raises(ParcoursError, match="--timestamp-format"):
        imp(store, path, timestamp_format=fmt)
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_unknown_timezone(store, tmp_path):
    with pytest.raises(ParcoursError, match="--timezone 'Mars/Olympus'"):
        imp(store, _ts_file(tmp_path, ["2024-01-01 00:00:00"]), timezone="Mars/Olympus")


# -- quarantine ------------------------------------------------------------------------------------


def test_invalid_rows_go_to_quarantine_with_file_row_reason_and_raw(store, tmp_path):
    path = write(
        tmp_path / "q.csv",
        "user_id,anonymous_id,event,timestamp\n"
        "u1,,ok,2024-01-01T00:00:00Z\n"
        ",,noid,2024-01-01T00:00:00Z\n"
        "u2,,badts,yesterday\n"
        "u3,,,2024-01-01T00:00:00Z\n"
        "u4,,nots,\n",
    )
    s = imp(store, path)
    assert (s.loaded, s.quarantined, s.duplicates) == (1, 4, 0)
    q = store.con.execute("SELECT source, row_number, reason, raw FROM quarantine ORDER BY row_number").fetchall()
    assert [r[1] for r in q] == [2, 3, 4, 5]
    assert all(r[0] == str(path) for r in q)
    assert "missing user_id and anonymous_id" in q[0][2]
    assert "cannot read timestamp yesterday in column timestamp" in q[1][2]
    assert "missing event name" in q[2][2]
    assert q[3][2] == "missing timestamp"
    assert json.loads(q[1][3]) == {"user_id": "u2", "anonymous_id": None, "event": "badts", "timestamp": "yesterday"}
    # re-importing quarantines nothing twice
    imp(store, path)
    assert store.con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 4


def test_bad_survey_scores_are_quarantined(store, tmp_path):
    s = load_events(store, [
        {"user_id": "u", "event": "survey_response", "timestamp": "2024-01-01T00:00:00Z",
         "properties": {"metric": "nps", "score": 11}},
        {"user_id": "u", "event": "survey_response", "timestamp": "2024-01-01T00:00:00Z",
         "properties": {"metric": "csat", "score": 4}},
    ], tmp_path)
    assert (s.loaded, s.quarantined) == (1, 1)
    assert "out of range 0-10" in store.con.execute("SELECT reason FROM quarantine").fetchone()[0]


# -- idempotence -----------------------------------------------------------------------------------


def test_reimport_adds_nothing_but_identical_rows_stay_two_events(store, tmp_path):
    row = "u1,purchase,2024-01-01T00:00:00Z,10\n"
    path = write(tmp_path / "d.csv", "user_id,event,timestamp,revenue\n" + row + row + "u2,view,2024-01-01T00:00:00Z,\n")
    first = imp(store, path)
    assert (first.loaded, first.duplicates) == (3, 0)
    again = imp(store, path)
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 3, 0)
    assert store.con.execute("SELECT count(*) FROM events WHERE event = 'purchase'").fetchone()[0] == 2
    # a third identical row appended later is a new event; the first two are not re-added
    with open(path, "a") as f:
        f.write(row)
    assert imp(store, path).loaded == 1
    assert store.con.execute("SELECT count(*) FROM events WHERE event = 'purchase'").fetchone()[0] == 3


def test_identical_rows_in_different_batches(store, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 256)  # a few rows per batch
    row = "u1,purchase,2024-01-01T00:00:00Z\n"
    path = write(tmp_path / "d.csv", "user_id,event,timestamp\n" + row * 40)
    first = imp(store, path)
    assert first.loaded == 40
    assert store.con.execute("SELECT count(DISTINCT batch_id) FROM events").fetchone()[0] > 1
    again = imp(store, path)
    assert (again.loaded, again.duplicates) == (0, 40)


def test_derived_ids_are_the_md5_of_the_row_and_its_repeat_number(store, tmp_path, monkeypatch):
    """The id scheme is pinned: ids must not change with DuckDB or parcours versions, or a
    re-import after an upgrade would add every row again."""
    import hashlib

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 64)  # the repeats fall in different batches
    row = "u1,purchase,2024-01-01T00:00:00Z"
    path = write(tmp_path / "d.csv", "user_id,event,timestamp\n" + "\n".join([row, "u2,view,2024-01-02T00:00:00Z", row, row]) + "\n")
    imp(store, path)
    content = "\x1f".join(row.split(","))
    expected = {hashlib.md5(f"{content}:{k}".encode()).hexdigest() for k in (1, 2, 3)}
    assert expected <= {r["message_id"] for r in events(store)}
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 4


def test_message_id_from_the_source(store, tmp_path):
    path = write(
        tmp_path / "m.csv",
        "id,user_id,event,timestamp\nm1,u,a,2024-01-01T00:00:00Z\nm1,u,a-again,2024-01-01T00:00:00Z\n"
        "m2,u,b,2024-01-01T00:00:00Z\n",
    )
    s = imp(store, path, ["message_id=id"])
    assert (s.loaded, s.duplicates) == (2, 1)
    assert sorted(r["message_id"] for r in events(store)) == ["m1", "m2"]
    # another file carrying a known id adds only the new one
    other = write(tmp_path / "n.csv", "id,user_id,event,timestamp\nm2,u,b,2024-01-01T00:00:00Z\nm3,u,c,2024-01-01T00:00:00Z\n")
    assert imp(store, other, ["message_id=id"]).loaded == 1


def test_file_larger_than_one_batch(store, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 16384)
    lines = [f"u{i % 7},e{i % 3},2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(3000)]
    path = write(tmp_path / "big.csv", "user_id,event,timestamp\n" + "\n".join(lines) + "\n")
    s = imp(store, path)
    assert s.loaded == 3000
    assert store.con.execute("SELECT count(DISTINCT batch_id) FROM events").fetchone()[0] > 3
    assert store.con.execute("SELECT sum(loaded), min(first_row), max(last_row) FROM imports").fetchone() == (3000, 1, 3000)


def test_a_failing_batch_leaves_earlier_batches_and_resumes(store, tmp_path, monkeypatch):
    """All or nothing per batch: a crash mid-file keeps whole batches only; re-running completes it."""
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 256)
    lines = [f"u{i},e,2024-01-01T00:00:{i % 60:02d}Z" for i in range(200)]
    path = write(tmp_path / "r.csv", "user_id,event,timestamp\n" + "\n".join(lines) + "\n")
    from parcours.ingest import importer

    real = importer._insert_events
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_insert_events", flaky)
    with pytest.raises(RuntimeError):
        imp(store, path)
    partial = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
    batches = store.con.execute("SELECT sum(loaded), count(*) FROM imports").fetchone()
    assert 0 < partial < 200 and batches == (partial, 2)  # two whole batches, nothing of the third
    monkeypatch.setattr(importer, "_insert_events", real)
    s = imp(store, path)
    assert (s.loaded, s.duplicates) == (200 - partial, partial)
    assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 200


# -- unmapped events and bad files -----------------------------------------------------------------


def test_unmapped_events_are_kept_and_reported(store, tmp_path):
    load_events(store, [
        {"user_id": "u", "event": "purchase", "timestamp": "2024-01-01T00:00:00Z", "properties": {"revenue": 5}},
        {"user_id": "u", "event": "teleport", "timestamp": "2024-01-01T00:00:01Z"},
        {"user_id": "u", "event": "identify", "type": "identify", "timestamp": "2024-01-01T00:00:02Z"},
    ], tmp_path)
    stats = parcours.store_stats(store)
    assert stats["events"] == 3
    assert stats["unmapped_events"] == 1  # identify is ignored on purpose, not unmapped
    assert parcours.unmapped_events(store)["event"].tolist() == ["teleport"]


def test_empty_ignored_events_counts_every_unmapped_event(store, tmp_path):
    data = tomllib.loads(template_text("five-stages"))
    data["ignored_events"] = []
    store.set_journey(tomli_w.dumps(data), "test")
    load_events(store, [{"user_id": "u", "event": "identify", "timestamp": "2024-01-01T00:00:00Z"}], tmp_path)
    assert parcours.store_stats(store)["unmapped_events"] == 1


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        ("missing.csv", None, None, "no such file"),
        ("empty.csv", "", None, "empty"),
        ("header.csv", "user_id,event,timestamp\n", None, "no data rows"),
        ("a.unknown", "x", None, "cannot tell the format"),
        ("bin.parquet", "not parquet", None, "not a readable Parquet file"),
        ("bad.xes", "<log><trace>", None, "not a valid XES"),
        ("notjson.jsonl", "a,b,c\n1,2,3\n", None, "not JSON Lines"),
        ("x.csv", "a", "excel", "unknown format"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(store, tmp_path, name, content, fmt, message):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(ParcoursError, match=message):
        imp(store, path, fmt=fmt)
    counts = store.con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine), (SELECT count(*) FROM imports)"
    ).fetchone()
    assert counts == (0, 0, 0)


def test_unknown_column_in_map_names_the_column_and_the_columns(store, tmp_path):
    path = write(tmp_path / "a.csv", CSV)
    with pytest.raises(ParcoursError, match=r"--map user_id=visitor: .*a.csv has no column 'visitor' \(columns: uid"):
        imp(store, path, ["user_id=visitor"])


def test_unknown_field_in_map_or_set(store, tmp_path):
    with pytest.raises(ParcoursError, match="unknown field 'colour'"):
        parcours.Mapping.parse(["colour=x"])
    with pytest.raises(ParcoursError, match="expected FIELD=VALUE"):
        parcours.Mapping.parse([], ["channel"])
