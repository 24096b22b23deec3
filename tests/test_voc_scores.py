"""VoC scores on hand-computed examples, touchpoint inference, and the importer's range checks."""

from __future__ import annotations

import math

import pytest
from conftest import load_events

from parcours import Filter
from parcours.analytics.voc import survey_answers, voc_scores, voc_trend
from parcours.errors import ParcoursError


def ev(user, event, ts, **props):
    return {"user_id": user, "event": event, "timestamp": ts, "properties": props}


def nps(user, ts, score, **extra):
    return ev(user, "survey_response", ts, metric="nps", score=score, **extra)


def test_touchpoint_given_or_inferred_from_latest_touchpoint_before(store, tmp_path):
    load_events(store, [
        ev("u1", "site_visit", "2024-01-01T10:00:00Z"),
        ev("u1", "add_to_cart", "2024-01-01T10:05:00Z"),
        nps("u1", "2024-01-01T10:05:00Z", 3),                      # same instant: the cart counts
        ev("u1", "support_call", "2024-01-02T09:00:00Z"),         # after the answer: ignored
        nps("u2", "2024-01-01T12:00:00Z", 10, touchpoint="delivery"),
        nps("u3", "2024-01-01T12:00:00Z", 8),                      # no touchpoint at all
    ], tmp_path)
    answers = survey_answers(store).set_index("customer_id")
    assert answers.loc["u1", "touchpoint"] == "cart"
    assert answers.loc["u1", "touchpoint_source"] == "inferred"
    assert (answers.loc["u1", "stage"], answers.loc["u1", "channel"]) == ("decision", "web")
    assert answers.loc["u2", "touchpoint"] == "delivery"
    assert answers.loc["u2", "touchpoint_source"] == "given"
    assert (answers.loc["u2", "stage"], answers.loc["u2", "channel"]) == ("retention", "delivery")
    assert answers.loc["u3", "touchpoint"] is None and answers.loc["u3", "touchpoint_source"] is None


def test_inference_uses_touchpoints_before_the_date_range(store, tmp_path):
    load_events(store, [
        ev("u1", "delivery", "2024-01-01T10:00:00Z"),
        nps("u1", "2024-02-01T10:00:00Z", 2),
    ], tmp_path)
    answers = survey_answers(store, filter=Filter(start="2024-01-15T00:00:00"))
    assert list(answers["touchpoint"]) == ["delivery"]


def test_scores_by_touchpoint_hand_computed(store, tmp_path):
    # delivery: NPS answers 10, 9, 8, 6, 0 -> 2 promoters, 2 detractors of 5 -> NPS 0
    # CSAT answers 5, 4, 2 -> 2 of 3 satisfied -> 66.67 ; CES 7, 5, 3 -> mean 5, 2 of 3 easy
    events = [nps(f"n{i}", "2024-01-01T10:00:00Z", s, touchpoint="delivery") for i, s in enumerate([10, 9, 8, 6, 0])]
    events += [ev(f"c{i}", "survey_response", "2024-01-01T10:00:00Z", metric="csat", score=s, touchpoint="delivery")
               for i, s in enumerate([5, 4, 2])]
    events += [ev(f"e{i}", "survey_response", "2024-01-01T10:00:00Z", metric="ces", score=s, touchpoint="delivery")
               for i, s in enumerate([7, 5, 3])]
    events += [nps("p1", "2024-01-01T10:00:00Z", 10, touchpoint="checkout")]
    load_events(store, events, tmp_path)
    df = voc_scores(store, by="touchpoint").set_index("touchpoint")
    d = df.loc["delivery"]
    assert d["nps"] == pytest.approx(0.0) and d["nps_answers"] == 5
    # Wald trinomial: var = (0.4 + 0.4 - 0) / 5 = 0.16 -> half width 1.959964 * 0.4 * 100
    assert d["nps_high"] == pytest.approx(1.959964 * 40, rel=1e-5)
    assert d["nps_low"] == pytest.approx(-1.959964 * 40, rel=1e-5)
    assert d["csat"] == pytest.approx(200 / 3) and d["csat_answers"] == 3
    assert d["ces"] == pytest.approx(5.0) and d["ces_answers"] == 3
    assert d["ces_easy"] == pytest.approx(200 / 3)
    c = df.loc["checkout"]
    assert c["nps"] == 100 and c["nps_answers"] == 1
    assert c["csat"] is None and c["csat_answers"] == 0 and c["ces"] is None and c["ces_low"] is None
    # journey order: checkout (decision) before delivery (retention)
    assert list(df.index) == ["checkout", "delivery"]
    stages = voc_scores(store, by="stage").set_index("stage")
    assert stages.loc["retention", "nps_answers"] == 5 and stages.loc["decision", "nps"] == 100
    channels = voc_scores(store, by="channel").set_index("channel")
    assert channels.loc["delivery", "ces_answers"] == 3
    overall = voc_scores(store, by=None)
    assert overall.loc[0, "nps_answers"] == 6
    assert overall.loc[0, "nps"] == pytest.approx(100 * (3 - 2) / 6)


def test_intervals_match_scipy_and_statsmodels(store, tmp_path):
    stats = pytest.importorskip("scipy.stats")
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    csat = [5, 5, 4, 3, 1, 4, 2, 5, 4, 4, 3]
    ces = [7, 6, 2, 5, 5, 3, 6, 7]
    events = [ev(f"c{i}", "survey_response", "2024-03-01T00:00:00Z", metric="csat", score=s, touchpoint="checkout")
              for i, s in enumerate(csat)]
    events += [ev(f"e{i}", "survey_response", "2024-03-01T00:00:00Z", metric="ces", score=s, touchpoint="checkout")
               for i, s in enumerate(ces)]
    load_events(store, events, tmp_path)
    row = voc_scores(store, by="touchpoint").iloc[0]
    satisfied = sum(s >= 4 for s in csat)
    low, high = proportion.proportion_confint(satisfied, len(csat), alpha=0.05, method="wilson")
    assert (row["csat_low"], row["csat_high"]) == pytest.approx((100 * low, 100 * high))
    mean = sum(ces) / len(ces)
    low, high = stats.t.interval(0.95, len(ces) - 1, loc=mean, scale=stats.sem(ces))
    assert (row["ces_low"], row["ces_high"]) == pytest.approx((low, high))


def test_nps_interval_is_clipped_and_undefined_without_answers():
    from parcours.analytics.voc.stats import nps_interval, t_interval

    value, low, high = nps_interval([2], [0], [2])
    assert value[0] == 100 and high[0] == 100 and low[0] == 100  # no spread at all
    value, low, high = nps_interval([0], [0], [0])
    assert math.isnan(value[0]) and math.isnan(low[0])
    low, high = t_interval([5.0], [float("nan")], [1])
    assert math.isnan(low[0])


def test_trend_by_month_and_date_filter(store, tmp_path):
    load_events(store, [
        nps("a", "2024-01-10T00:00:00Z", 10, touchpoint="delivery"),
        nps("b", "2024-01-20T00:00:00Z", 0, touchpoint="delivery"),
        nps("c", "2024-02-05T00:00:00Z", 10, touchpoint="delivery"),
    ], tmp_path)
    trend = voc_trend(store, period="month")
    assert [str(p)[:7] for p in trend["period"]] == ["2024-01", "2024-02"]
    assert list(trend["nps"]) == [0.0, 100.0]
    feb = voc_scores(store, by="stage", filter=Filter(start="2024-02-01T00:00:00"))
    assert list(feb["nps_answers"]) == [1]


def test_bad_grouping_and_period_are_clear_errors(store):
    with pytest.raises(ParcoursError, match="`by` 'colour'"):
        voc_scores(store, by="colour")
    with pytest.raises(ParcoursError, match="`period` 'fortnight'"):
        voc_trend(store, period="fortnight")


def test_empty_store_gives_empty_tables(store):
    assert voc_scores(store).empty
    assert voc_scores(store, by=None).empty


@pytest.mark.parametrize("props, reason", [
    ({"metric": "nps", "score": 11}, "nps score 11 is out of range 0-10"),
    ({"metric": "csat", "score": 0}, "csat score 0 is out of range 1-5"),
    ({"metric": "ces", "score": 8}, "ces score 8 is out of range 1-7"),
    ({"metric": "ces", "score": 4.5}, "out of range 1-7"),
    ({"metric": "stars", "score": 4}, "metric stars is not nps, csat or ces"),
    ({"score": 4}, "without properties.metric"),
    ({"metric": "nps", "score": "great"}, "is not a number"),
])
def test_importer_quarantines_bad_answers(store, tmp_path, props, reason):
    summary = load_events(store, [
        ev("u1", "survey_response", "2024-01-01T00:00:00Z", **props),
        nps("u2", "2024-01-01T00:00:00Z", 7),
    ], tmp_path)
    assert summary.loaded == 1 and summary.quarantined == 1
    reasons = [r for (r,) in store.con.execute("SELECT reason FROM quarantine").fetchall()]
    assert len(reasons) == 1 and reason in reasons[0]
    assert list(survey_answers(store)["score"]) == [7.0]


def test_scores_per_segment(store, tmp_path):
    from parcours.analytics.segments.segments import by_segment, save_list_segment
    from parcours.query import sql

    load_events(store, [nps("a", "2024-01-01T00:00:00Z", 10, touchpoint="delivery"),
                        nps("b", "2024-01-01T00:00:00Z", 0, touchpoint="delivery")], tmp_path)
    save_list_segment(store, "happy", sql("SELECT 'a' AS customer_id"))
    df = by_segment(store, voc_scores, ["happy"], include_all=True, by="stage")
    assert df[["segment", "stage", "nps", "nps_answers"]].values.tolist() == [
        ["all", "retention", 0.0, 2], ["happy", "retention", 100.0, 1]]


def test_answer_and_score_sql_transpile_to_spark(store):
    """The SQL stays portable: no ASOF join, no QUALIFY, nothing sqlglot cannot write for Spark."""
    import sqlglot

    from parcours.analytics.voc.answers import answers_query
    from parcours.analytics.voc.scores import _BY, _COUNTS
    from parcours.query import sql

    tree = sql(_BY["touchpoint"], counts=_COUNTS, answers=answers_query(store, None))
    spark = tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert "IGNORE NULLS" in spark and "ASOF" not in spark.upper()
