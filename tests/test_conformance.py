"""Conformance: the designed net, its PNML read by pm4py, and fitness equal to pm4py's alignments."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from clirun import run
from conftest import load_events, shared_path

import parcours
from parcours.analytics.conformance import (
    conformance_customers,
    conformance_overview,
    export_journey,
    journey_net,
)
from parcours.analytics.conformance.align import align, reachability
from parcours.config import parse_config

pm4py = pytest.importorskip("pm4py")

PLANTED = """
name = "planted"
[[stages]]
name = "discover"
[[stages]]
name = "choose"
skippable = true
[[stages]]
name = "buy"
[[stages]]
name = "after"
[[touchpoints]]
name = "ad"
stage = "discover"
channel = "ads"
match = "ad"
[[touchpoints]]
name = "search"
stage = "discover"
channel = "search"
match = "search"
[[touchpoints]]
name = "compare"
stage = "choose"
channel = "web"
match = "compare"
required = true
[[touchpoints]]
name = "cart"
stage = "buy"
channel = "web"
match = "cart"
[[touchpoints]]
name = "pay"
stage = "buy"
channel = "web"
match = "pay"
moment_of_truth = true
repeatable = false
after = ["cart"]
[[touchpoints]]
name = "review"
stage = "after"
channel = "review"
match = "review"
"""

HELPDESK = """
name = "helpdesk"
must_finish = true
[[stages]]
name = "intake"
[[stages]]
name = "handling"
[[stages]]
name = "resolution"
[[stages]]
name = "closure"
[[touchpoints]]
name = "insert"
stage = "intake"
channel = "web_form"
match = "Insert ticket"
[[touchpoints]]
name = "assign"
stage = "intake"
channel = "other"
match = "Assign seriousness"
required = true
repeatable = false
[[touchpoints]]
name = "take"
stage = "handling"
channel = "other"
match = "Take in charge ticket"
moment_of_truth = true
[[touchpoints]]
name = "wait"
stage = "handling"
channel = "other"
match = "Wait"
after = ["take"]
[[touchpoints]]
name = "upgrade"
stage = "handling"
channel = "other"
match = "Require upgrade"
[[touchpoints]]
name = "anomaly"
stage = "handling"
channel = "other"
match = "Create SW anomaly"
[[touchpoints]]
name = "resolve"
stage = "resolution"
channel = "other"
match = "Resolve ticket"
required = true
[[touchpoints]]
name = "closed"
stage = "closure"
channel = "other"
match = "Closed"
required = true
repeatable = false
"""

BPIC = """
name = "loan"
must_finish = true
[[stages]]
name = "application"
[[stages]]
name = "offer"
skippable = true
[[stages]]
name = "decision"
[[touchpoints]]
name = "submitted"
stage = "application"
channel = "web"
match = "A_SUBMITTED"
required = true
repeatable = false
[[touchpoints]]
name = "partly"
stage = "application"
channel = "web"
match = "A_PARTLYSUBMITTED"
required = true
repeatable = false
after = ["submitted"]
[[touchpoints]]
name = "preaccepted"
stage = "application"
channel = "other"
match = "A_PREACCEPTED"
[[touchpoints]]
name = "accepted"
stage = "application"
channel = "other"
match = "A_ACCEPTED"
[[touchpoints]]
name = "offer_selected"
stage = "offer"
channel = "other"
match = "O_SELECTED"
required = true
[[touchpoints]]
name = "offer_sent"
stage = "offer"
channel = "email"
match = "O_SENT"
after = ["offer_selected"]
repeatable = false
[[touchpoints]]
name = "offer_back"
stage = "offer"
channel = "email"
match = "O_SENT_BACK"
[[touchpoints]]
name = "approved"
stage = "decision"
channel = "other"
match = "A_APPROVED"
[[touchpoints]]
name = "declined"
stage = "decision"
channel = "other"
match = "A_DECLINED"
[[touchpoints]]
name = "cancelled"
stage = "decision"
channel = "other"
match = "A_CANCELLED"
"""


def pm4py_fitness(config, traces: dict[str, list[str]], tmp_path) -> dict[str, float]:
    """pm4py's alignment fitness per case, on the net parcours exports (read back by pm4py)."""
    path = export_journey(config, tmp_path / "designed.pnml")
    net, im, fm = pm4py.read_pnml(str(path))
    rows = [{"case:concept:name": c, "concept:name": a, "time:timestamp": pd.Timestamp("2020-01-01") + pd.Timedelta(seconds=i)}
            for c, seq in traces.items() for i, a in enumerate(seq)]
    log = pm4py.convert_to_event_log(pd.DataFrame(rows))
    res = pm4py.conformance_diagnostics_alignments(log, net, im, fm, multi_processing=False)
    return {trace.attributes["concept:name"]: r["fitness"] for trace, r in zip(log, res, strict=True)}


def test_pnml_reads_back_with_markings_and_labels(tmp_path):
    config = parse_config(PLANTED, "planted")
    path = export_journey(config, tmp_path / "j.pnml")
    net, im, fm = pm4py.read_pnml(str(path))
    labels = {t.label for t in net.transitions}
    assert labels - {None} == {t.name for t in config.touchpoints}
    assert None in labels  # silent transitions stay unlabelled
    assert sum(im.values()) == 1 and sum(fm.values()) == 1
    bpmn = export_journey(config, tmp_path / "j.bpmn").read_text()
    assert "adHocSubProcess" in bpmn and 'name="pay"' in bpmn


def test_rules_validated_and_defaults():
    bad = PLANTED.replace('after = ["cart"]', 'after = ["ad"]')
    with pytest.raises(Exception, match="same stage"):
        parse_config(bad, "bad")
    cycle = PLANTED.replace('name = "cart"\nstage = "buy"', 'name = "cart"\nstage = "buy"\nafter = ["pay"]')
    with pytest.raises(Exception, match="cycle: "):
        parse_config(cycle, "cycle")
    config = parse_config(PLANTED, "planted")
    assert config.touchpoint("pay").is_required and not config.touchpoint("ad").is_required  # moment of truth
    assert config.touchpoint("ad").repeatable and not config.stages[0].skippable and not config.must_finish


def test_planted_cases_equal_pm4py(tmp_path):
    config = parse_config(PLANTED, "planted")
    graph = reachability(journey_net(config))
    planted = {
        "fits": ["ad", "compare", "cart", "pay", "review"],
        "skip_choose": ["search", "cart", "pay"],  # choose is skippable: fits
        "skip_buy": ["ad", "compare", "review"],  # buy skipped: its required pay missing
        "pay_twice": ["ad", "cart", "pay", "pay"],
        "pay_first": ["ad", "pay", "cart"],
        "back": ["ad", "cart", "pay", "ad"],
        "stop_early": ["ad", "search", "ad"],  # may stop after any stage
    }
    rng = random.Random(7)
    names = [t.name for t in config.touchpoints]
    randoms = {f"r{i}": [rng.choice(names) for _ in range(rng.randint(1, 9))] for i in range(150)}
    traces = planted | randoms
    expected = pm4py_fitness(config, traces, tmp_path)
    for case, seq in traces.items():
        assert align(graph, seq).fitness == pytest.approx(expected[case], abs=1e-12), (case, seq)
    assert expected["fits"] == expected["skip_choose"] == expected["stop_early"] == 1.0
    assert expected["pay_twice"] < 1 and expected["pay_first"] < 1 and expected["back"] < 1


def test_planted_deviations_from_the_store(tmp_path, store):
    store.set_journey(PLANTED, "planted")
    events = []
    for cust, seq in {"a": ["ad", "compare", "cart", "pay"], "b": ["ad", "cart", "pay", "pay"],
                      "c": ["ad", "pay", "cart"], "d": ["ad", "cart", "pay", "search"], "e": ["ad", "review"],
                      "f": ["ad", "compare", "cart", "review"]}.items():
        for i, ev in enumerate(seq):
            events.append({"user_id": cust, "event": ev, "timestamp": f"2024-01-01T00:00:0{i}Z"})
    events.append({"user_id": "a", "event": "unknown_thing", "timestamp": "2024-01-01T00:00:09Z"})
    load_events(store, events, tmp_path)
    per = conformance_customers(store).set_index("customer")
    kinds = {c: sorted(d["kind"] for d in per.loc[c, "deviations"]) for c in per.index}
    assert per.loc["a", "fitness"] == 1.0 and per.loc["a", "off_map"] == 1
    assert kinds["b"] == ["repeated non-repeatable touchpoint"]
    assert kinds["c"] == ["out-of-order touchpoint"]
    assert kinds["d"] == ["back to an earlier stage"]
    assert kinds["e"] == ["skipped stage"]
    assert kinds["f"] == ["skipped required touchpoint"]
    overview = conformance_overview(store)
    assert overview["customers"] == 6
    assert overview["variants"].iloc[0]["path"] == "ad > compare > pay > review"


@pytest.mark.parametrize(("ignored", "off_map"), [(None, 1), ("ignored_events = []", 2)])
def test_off_map_counts_every_unignored_event(tmp_path, store, ignored, off_map):
    """An identify call is off the map only when the journey ignores nothing (``ignored_events = []``)."""
    journey = PLANTED if ignored is None else PLANTED.replace('name = "planted"\n', f'name = "planted"\n{ignored}\n', 1)
    store.set_journey(journey, "planted")
    load_events(store, [{"user_id": "a", "event": ev, "timestamp": f"2024-01-01T00:00:0{i}Z"}
                        for i, ev in enumerate(["ad", "identify", "unknown_thing", "cart"])], tmp_path)
    assert conformance_customers(store).set_index("customer").loc["a", "off_map"] == off_map


def _store_traces(store) -> dict[str, list[str]]:
    per = conformance_customers(store)
    return {r.customer: r.variant.split(" > ") for r in per.itertuples() if r.touchpoints}, per


def _compare_real(tmp_path, csv: str, case: str, journey: str, sample: int | None):
    path = shared_path(csv)
    with parcours.open(tmp_path / "r.duckdb") as store:
        parcours.import_file(store, path, mapping=parcours.Mapping.parse(
            [f"user_id={case}", "event=concept:name", "timestamp=time:timestamp"]))
        store.set_journey(journey, "designed")
        config = store.config
        per = conformance_customers(store).set_index("customer")
    # pm4py reads the log itself; events are relabelled to the touchpoint they map to (the net's labels)
    df = pm4py.format_dataframe(pd.read_csv(path, dtype={case: str}), case_id=case,
                                activity_key="concept:name", timestamp_key="time:timestamp")
    to_tp = {m: t.name for t in config.touchpoints for m in [t.match.event]}
    df["concept:name"] = df["concept:name"].map(to_tp)
    df = df.dropna(subset=["concept:name"])
    cases = list(dict.fromkeys(df["case:concept:name"]))
    if sample:
        cases = random.Random(3).sample(cases, sample)
        df = df[df["case:concept:name"].isin(set(cases))]
    traces = {c: list(g["concept:name"]) for c, g in df.groupby("case:concept:name", sort=False)}
    expected = pm4py_fitness(config, traces, tmp_path)
    mismatched = [c for c in traces if per.loc[c, "fitness"] != pytest.approx(expected[c], abs=1e-12)]
    assert not mismatched, (len(mismatched), mismatched[:5])
    assert len(traces) > 100 and min(expected.values()) < 1 < 2 * max(expected.values())


def test_helpdesk_equals_pm4py(tmp_path):
    _compare_real(tmp_path, "data/process_mining_receipt_helpdesk/helpdesk_events.csv.gz", "case:concept:name",
                  HELPDESK, sample=None)


def test_bpic2012_equals_pm4py(tmp_path):
    _compare_real(tmp_path, "data/bpic2012_loan_applications/bpic2012_events.csv.gz", "case:concept:name",
                  BPIC, sample=400)


def test_cli_conformance_json(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    with parcours.open(db) as store:
        store.set_journey(PLANTED, "planted")
        load_events(store, [{"user_id": "x", "event": e, "timestamp": f"2024-01-01T00:00:0{i}Z"}
                            for i, e in enumerate(["ad", "pay", "cart"])], tmp_path)
    rows = run(capsys, "--db", db, "conformance", "--per-customer", "--format", "json").json()
    assert rows[0]["customer"] == "x" and rows[0]["fitness"] < 1 and rows[0]["deviations"]
    summary = run(capsys, "--db", db, "conformance", "--format", "json").json()
    assert set(summary) >= {"stages", "touchpoints", "deviations", "variants"}
    assert run(capsys, "--db", db, "conformance", "--where", "fitness < 0.8", "--save-segment", "deviating").code == 0
    bad = run(capsys, "--db", db, "conformance", "--where", "fit < 1")
    assert bad.code == 2 and "fitness OP NUMBER" in bad.err
    with parcours.open(db, read_only=True) as store:
        assert parcours.segment_members(store, "deviating")["customer_id"].tolist() == ["x"]


def test_opportunities_ranked_with_evidence(tmp_path, capsys):
    db = tmp_path / "o.duckdb"
    with parcours.open(db) as store:
        store.set_journey(PLANTED, "planted")
        events = []
        # 20 customers follow the design and buy; 20 pay before the cart and do not
        for i in range(20):
            for k, ev in enumerate(["ad", "cart", "pay"]):
                events.append({"user_id": f"ok{i}", "event": ev, "timestamp": f"2024-01-01T00:00:0{k}Z"})
            events.append({"user_id": f"ok{i}", "event": "purchase", "timestamp": "2024-01-01T00:00:05Z",
                           "properties": {"revenue": 50}})
            for k, ev in enumerate(["ad", "pay", "cart"]):
                events.append({"user_id": f"bad{i}", "event": ev, "timestamp": f"2024-01-01T00:00:0{k}Z"})
        load_events(store, events, tmp_path)
    rows = run(capsys, "--db", db, "opportunities", "--format", "json").json()
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    # "ad > pay > cart" costs one move either way: the deviation lands on pay or on cart
    pay = next(r for r in rows if r["touchpoint"] in {"pay", "cart"} and r["lost_conversions"])
    assert pay["customers"] == 40 and pay["lost_conversions"] == 20 and pay["lost_value"] == 1000
    assert pay["evidence"][0].startswith("20.0 conversions lost (1,000 in value)")
    assert pay["example_customers"][0].startswith("bad")
    assert rows[0]["touchpoint"] in {"pay", "cart"}
