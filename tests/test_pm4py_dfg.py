"""The directly-follows graph equals pm4py's ``discover_dfg`` on real logs, exactly as pm4py reads them.

pm4py keeps same-timestamp events in the order of the log (``read_xes``: the order within the
trace; ``format_dataframe``: the row order of the file). parcours keeps the order events were
recorded in (``arrival_seq``), so no re-sorting of pm4py's input is needed or allowed here.
BPIC 2012 holds 25,369 events that share a millisecond with another in their case, Helpdesk
many same-second events: orderings by name or id give different graphs on both.

Spark runs the smaller Helpdesk log (BPIC 2012 on Spark takes minutes on two cores).
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import shared_path

import parcours
from parcours.analytics.paths.paths import dfg

pm4py = pytest.importorskip("pm4py")

CASE, ACTIVITY, TIME = "case:concept:name", "concept:name", "time:timestamp"
CSV_MAPPING = [f"user_id={CASE}", f"event={ACTIVITY}", f"timestamp={TIME}"]

LOGS = {
    "bpic2012_xes": "data/bpic2012_loan_applications/bpic2012.xes.gz",
    "bpic2012_csv": "data/bpic2012_loan_applications/bpic2012_events.csv.gz",
    "helpdesk_xes": "data/process_mining_receipt_helpdesk/helpdesk.xes.gz",
    "receipt_xes": "data/process_mining_receipt_helpdesk/receipt.xes.gz",
}


def theirs(path) -> dict[tuple[str, str], int]:
    """pm4py's DFG of the log as pm4py reads it: ``read_xes``, or ``format_dataframe`` over the CSV."""
    if str(path).endswith(".xes.gz"):
        log = pm4py.read_xes(str(path))
    else:
        log = pm4py.format_dataframe(pd.read_csv(path, dtype=str), case_id=CASE, activity_key=ACTIVITY,
                                     timestamp_key=TIME)
    graph, _, _ = pm4py.discover_dfg(log, case_id_key=CASE, activity_key=ACTIVITY, timestamp_key=TIME)
    return dict(graph)


def load(path, db) -> parcours.Store:
    store = parcours.open(db)
    mapping = None if str(path).endswith(".xes.gz") else parcours.Mapping.parse(CSV_MAPPING)
    parcours.import_file(store, path, mapping=mapping)  # XES defaults: case id, activity, timestamp
    return store


def ours(store) -> dict[tuple[str, str], int]:
    return {(r.source, r.target): r.count for r in dfg(store, by="event").itertuples()}


@pytest.mark.parametrize("name", list(LOGS))
def test_dfg_equals_pm4py(name, tmp_path):
    path = shared_path(LOGS[name])
    with load(path, tmp_path / "s.duckdb") as store:
        mine = ours(store)
    expected = theirs(path)
    assert mine == expected
    assert len(expected) > 50


def test_dfg_equals_pm4py_on_spark(tmp_path):
    pytest.importorskip("pyspark")
    path = shared_path(LOGS["helpdesk_xes"])
    load(path, tmp_path / "s.duckdb").close()
    with parcours.open(tmp_path / "s.duckdb", engine="spark") as store:
        mine = ours(store)
    assert mine == theirs(path)
