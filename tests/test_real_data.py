"""Real public data sets import with exactly the counts their SOURCE.md files state."""

from __future__ import annotations

import pytest
from conftest import shared_path

import parcours

TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]

#: SOURCE.md, "Event counts" (and the funnel line for the A_ events it lists there)
BPIC_EVENTS = {
    "A_SUBMITTED": 13_087, "A_PARTLYSUBMITTED": 13_087, "A_PREACCEPTED": 7_367, "A_ACCEPTED": 5_113,
    "A_DECLINED": 7_635, "A_CANCELLED": 2_807, "A_APPROVED": 2_246, "A_REGISTERED": 2_246,
    "A_ACTIVATED": 2_246, "A_FINALIZED": 5_015, "O_SENT": 7_030, "O_SENT_BACK": 3_454, "O_CANCELLED": 3_655,
    "O_DECLINED": 802, "O_ACCEPTED": 2_243,
}


@pytest.fixture(scope="module")
def taobao(tmp_path_factory):
    path = shared_path("data/taobao_userbehavior_prefix/UserBehavior_prefix.csv")
    store = parcours.open(tmp_path_factory.mktemp("taobao") / "t.duckdb")
    summary = parcours.import_file(
        store, path, header=False, columns=TAOBAO_COLUMNS, timestamp_format="unix",
        mapping=parcours.Mapping.parse(["event=behavior_type"]),
    )
    yield store, summary
    store.close()


def test_taobao_counts(taobao):
    store, summary = taobao
    assert (summary.loaded, summary.quarantined, summary.duplicates) == (84_287, 0, 0)
    stats = parcours.store_stats(store)
    assert stats["events"] == 84_287 and stats["customers"] == 814
    assert stats["events_by_name"] == {"pv": 75_693, "cart": 4_494, "fav": 2_351, "buy": 1_749}
    assert stats["unmapped_events"] == 84_287  # the five-stage map knows none of these names: kept, reported


def test_taobao_timestamps_are_utc(taobao):
    store, _ = taobao
    lo, hi = store.con.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchone()
    assert (str(lo), str(hi)) == ("2017-09-11 08:16:39", "2017-12-03 15:59:23")
    buyers = store.con.execute("SELECT count(DISTINCT user_id) FROM events WHERE event = 'buy'").fetchone()[0]
    assert buyers == 558


def test_taobao_reimport_adds_nothing(taobao):
    store, _ = taobao
    path = shared_path("data/taobao_userbehavior_prefix/UserBehavior_prefix.csv")
    again = parcours.import_file(store, path, header=False, columns=TAOBAO_COLUMNS, timestamp_format="unix",
                                 mapping=parcours.Mapping.parse(["event=behavior_type"]))
    assert (again.loaded, again.duplicates) == (0, 84_287)


def bpic_checks(store, summary):
    assert (summary.loaded, summary.quarantined, summary.duplicates) == (262_200, 0, 0)
    stats = parcours.store_stats(store)
    assert stats["events"] == 262_200 and stats["customers"] == 13_087
    by_name = stats["events_by_name"]
    assert {k: by_name[k] for k in BPIC_EVENTS} == BPIC_EVENTS
    assert len(by_name) == 24
    lifecycle = dict(store.con.execute(
        "SELECT json_extract_string(properties, '$.\"lifecycle:transition\"'), count(*) FROM events GROUP BY 1"
    ).fetchall())
    assert lifecycle == {"COMPLETE": 164_506, "START": 71_376, "SCHEDULE": 26_318}
    lo, hi = store.con.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchone()
    assert (str(lo), str(hi)) == ("2011-09-30 22:38:44.546000", "2012-03-14 15:04:54.681000")


def test_bpic2012_csv(tmp_path):
    path = shared_path("data/bpic2012_loan_applications/bpic2012_events.csv.gz")
    with parcours.open(tmp_path / "b.duckdb") as store:
        summary = parcours.import_file(store, path, mapping=parcours.Mapping.parse(
            ["user_id=case:concept:name", "event=concept:name", "timestamp=time:timestamp"]))
        bpic_checks(store, summary)


def test_bpic2012_xes(tmp_path):
    path = shared_path("data/bpic2012_loan_applications/bpic2012.xes.gz")
    with parcours.open(tmp_path / "x.duckdb") as store:
        summary = parcours.import_file(store, path)  # XES defaults: case id, activity, timestamp
        bpic_checks(store, summary)
