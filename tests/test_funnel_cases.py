"""Every peer case in ../shared/cases/funnels, checked under its peer's semantics.

Each case's events are imported through the real importer (the case's ``user`` becomes
the ``user_id``, so the peer's person is the stitched customer). Where the peer merged
two distinct_ids into one person, the case file already lists the events under the
merged person, so nothing needs stitching here. The cases are a sample of the peers'
suites: the engine implements the rules, not these answers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import SHARED, load_events, shared_path

import parcours
from parcours.analytics.funnels.funnel import conversion_trends, funnel, funnel_customers, time_to_convert
from parcours.query.filter import Filter

FILES = {"clickhouse": "cases/funnels/clickhouse_window_funnel.json", "posthog": "cases/funnels/posthog_funnels.json"}
#: Cases of the same form kept beside the tests (peer tests the shared set does not hold yet):
#: PostHog's exclusion tests, and its group and person-property funnel tests (person_props, group_props)
ENTITY_CASES = Path(__file__).parent / "data" / "posthog_entity_funnels.json"
LOCAL = [("posthog", Path(__file__).parent / "cases/funnels/posthog_exclusions.json"), ("posthog", ENTITY_CASES)]


def _cases() -> list:
    params = []
    for semantics, rel in [*FILES.items(), *LOCAL]:
        path = rel if isinstance(rel, Path) else SHARED / rel
        cases = json.loads(path.read_text())["cases"] if path.exists() else [{"name": "absent"}]
        params += [pytest.param(semantics, rel, c["name"], id=f"{semantics}:{c['name']}") for c in cases]
    return params


def _case(rel: str | Path, name: str) -> dict:
    cases = json.loads((rel if isinstance(rel, Path) else shared_path(rel)).read_text())["cases"]
    return next(c for c in cases if c["name"] == name)


def _spec(case: dict, semantics: str) -> dict:
    keys = ("steps", "window_seconds", "mode", "exclusions", "aggregate_by", "breakdown", "global_event_filter",
            "global_group_filter")
    spec = {k: case[k] for k in keys if k in case}
    spec["semantics"] = semantics
    # a few cases name a step no event of their data has: the peers count zero, parcours' default is an error
    spec["unknown_events"] = "zero"
    if spec.get("aggregate_by") == "user":
        spec["aggregate_by"] = "customer"
    return spec


def _load(store, case: dict, tmp_path) -> None:
    events = [{"user_id": e["user"], "event": e["event"], "timestamp": e["ts"], "properties": e.get("props") or {}}
              for e in case["events"]]
    summary = load_events(store, events, tmp_path)
    assert summary.loaded == len(events), summary
    # the persons' and groups' properties, through the real person/group table importer
    persons = [{"user_id": u, **props} for u, props in (case.get("person_props") or {}).items()]
    groups = [{"group_type": t, "group_id": k, **props}
              for t, by_key in (case.get("group_props") or {}).items() for k, props in by_key.items() if props]
    for kind, rows in (("persons", persons), ("groups", groups)):
        if rows:
            path = tmp_path / f"{kind}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            parcours.import_entities(store, path, kind)


def _trend_filter(case: dict) -> Filter:
    """The case's date range as a filter; a bare date or midnight end covers its whole day."""
    start, end = (datetime.fromisoformat(d) for d in case["date_range"])
    end += timedelta(days=1) if end == end.replace(hour=0, minute=0, second=0) else timedelta(seconds=1)
    return Filter(start=start, end=end)


def _seconds(expected: dict, row_value) -> None:
    if expected is None:
        assert row_value is None or row_value != row_value
    else:
        assert row_value == pytest.approx(expected)


def _check_steps(df, exp: dict) -> None:
    counts = list(df["customers"])
    for i, want in enumerate(exp.get("step_counts") or []):
        if want is not None:
            assert counts[i] == want, f"step {i}: {counts}"
    for key, col in (("average_conversion_time_seconds", "avg_seconds_from_previous"),
                     ("median_conversion_time_seconds", "median_seconds_from_previous")):
        for i, want in (exp.get(key) or {}).items():
            _seconds(want, df[col].iloc[int(i)] if int(i) > 0 else None)


@pytest.mark.parametrize(("semantics", "rel", "name"), _cases())
def test_peer_case(semantics, rel, name, store, tmp_path):
    case = _case(rel, name)
    _load(store, case, tmp_path)
    spec = _spec(case, semantics)
    exp = case["expected"]
    if "trends" in exp:
        got = conversion_trends(store, spec=spec, interval=case["interval"], filter=_trend_filter(case))
        rows = [{"period_start": r.period_start.strftime("%Y-%m-%d"), "reached_from_step_count": r.reached_from_step_count,
                 "reached_to_step_count": r.reached_to_step_count, "conversion_rate": r.conversion_rate}
                for r in got.itertuples()]
        assert rows == exp["trends"]
        return
    if "time_to_convert" in exp:
        got = time_to_convert(store, spec=spec, from_step=case.get("funnel_from_step", 0),
                              to_step=case.get("funnel_to_step"), bin_count=case.get("bin_count"))
        assert [list(map(int, r)) for r in got.itertuples(index=False)] == exp["time_to_convert"]["bins"]
        assert got.attrs["average_conversion_time"] == exp["time_to_convert"]["average_conversion_time"]
        return
    customers = funnel_customers(store, spec=spec)
    levels = dict(zip(customers["customer"], customers["level"], strict=True))
    excluded = set(customers.loc[customers["excluded"], "customer"])
    for user, want in (exp.get("per_user_max_step") or {}).items():
        assert levels.get(user, 0) == want, f"{user}: level {levels.get(user, 0)}, expected {want}"
        assert user not in excluded
    if "level_histogram" in exp:
        hist = customers[customers["level"] > 0]["level"].value_counts().to_dict()
        assert {str(k): v for k, v in hist.items()} == exp["level_histogram"]
    if "excluded_users" in exp:
        assert excluded == set(exp["excluded_users"])
    if "users_at_step_2" in exp:
        assert set(customers.loc[customers["level"] >= 2, "customer"]) == set(exp["users_at_step_2"])
    if "breakdowns" in exp:
        df = funnel(store, spec=spec)
        assert df["breakdown"].nunique() == exp["breakdown_count"]
        for value, want in exp["breakdowns"].items():
            _check_steps(df[df["breakdown"] == value].reset_index(drop=True), want)
        return
    if semantics == "posthog":
        df = funnel(store, spec=spec)
        _check_steps(df, exp)
        if exp.get("results_empty"):
            assert df["customers"].sum() == 0


def test_case_files_are_all_read():
    """The parametrization really found the peer cases (a missing file would skip silently)."""
    for rel in FILES.values():
        assert len(json.loads(shared_path(rel).read_text())["cases"]) > 10
    assert parcours.open  # the public API the cases run through


def test_entity_cases_on_spark(tmp_path):
    """The person/group cases give the same step counts on Spark (the entity joins are engine SQL)."""
    pytest.importorskip("pyspark")
    from parcours.engine.spark import spark_session

    spark_session()
    for case in json.loads(ENTITY_CASES.read_text())["cases"]:
        folder = tmp_path / case["name"]
        folder.mkdir()
        with parcours.open(folder / "s.duckdb") as store:
            _load(store, case, folder)
        with parcours.open(folder / "s.duckdb", engine="spark") as sp:
            _check_steps(funnel(sp, spec=_spec(case, "posthog")), case["expected"])
