"""Touchpoint comparison, satisfaction vs behaviour, detractors' touchpoints, and the voc CLI."""

from __future__ import annotations

import json
import math

import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.voc import compare_touchpoints, detractor_touchpoints, satisfaction_behaviour
from parcours.cli.main import app
from parcours.errors import ParcoursError


def ev(user, event, ts, **props):
    return {"user_id": user, "event": event, "timestamp": ts, "properties": props}


def answers(prefix, metric, touchpoint, scores):
    return [ev(f"{prefix}{i}", "survey_response", "2024-01-01T00:00:00Z", metric=metric, score=s,
               touchpoint=touchpoint) for i, s in enumerate(scores)]


CSAT = {"delivery": [1, 2, 3, 4, 2] * 8, "checkout": [5, 4, 4, 5, 3] * 8, "web_page": [4, 3, 4, 5, 2] * 8,
        "cart": [5, 1, 4]}
CES = {"delivery": [2, 3, 4, 3] * 10, "checkout": [6, 7, 5, 6] * 10, "web_page": [4, 5, 6, 3] * 10}
NPS = {"delivery": [0, 3, 6, 8, 10] * 8, "checkout": [9, 10, 10, 8, 6] * 8}


@pytest.fixture
def surveyed(store, tmp_path):
    events = []
    for metric, table in (("csat", CSAT), ("ces", CES), ("nps", NPS)):
        for tp, scores in table.items():
            events += answers(f"{metric}-{tp}-", metric, tp, scores)
    load_events(store, events, tmp_path)
    return store


def test_csat_comparison_matches_statsmodels(surveyed):
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    df = compare_touchpoints(surveyed, metric="csat").set_index("touchpoint")
    assert df.loc["cart", "verdict"] == "not enough answers" and math.isnan(df.loc["cart", "p_value"])
    for tp in ("delivery", "checkout", "web_page"):
        mine = [s >= 4 for s in CSAT[tp]]
        rest = [s >= 4 for other, scores in CSAT.items() if other != tp for s in scores]
        _, p = proportion.proportions_ztest([sum(mine), sum(rest)], [len(mine), len(rest)])
        assert df.loc[tp, "p_value"] == pytest.approx(p)
        assert df.loc[tp, "value"] == pytest.approx(100 * sum(mine) / len(mine))
        assert df.loc[tp, "rest_answers"] == len(rest)
    assert df.loc["delivery", "verdict"] == "lower" and df.loc["checkout", "verdict"] == "higher"
    assert df.loc["web_page", "verdict"] == "no significant difference"


def test_ces_comparison_is_welch_t_test(surveyed):
    stats = pytest.importorskip("scipy.stats")
    df = compare_touchpoints(surveyed, metric="ces").set_index("touchpoint")
    for tp in CES:
        rest = [s for other, scores in CES.items() if other != tp for s in scores]
        expected = stats.ttest_ind(CES[tp], rest, equal_var=False).pvalue
        assert df.loc[tp, "p_value"] == pytest.approx(expected)
    adjusted = stats.false_discovery_control(df.loc[list(CES), "p_value"].to_numpy())
    assert df.loc[list(CES), "p_adjusted"].to_numpy() == pytest.approx(adjusted)
    assert df.loc["checkout", "verdict"] == "higher" and df.loc["delivery", "verdict"] == "lower"


def test_nps_comparison_hand_computed(surveyed):
    df = compare_touchpoints(surveyed, metric="nps", min_answers=10).set_index("touchpoint")
    # delivery: 8 promoters, 24 detractors of 40 -> -40 ; checkout: 24 promoters, 8 detractors -> +40
    assert df.loc["delivery", "value"] == pytest.approx(-40) and df.loc["checkout", "value"] == pytest.approx(40)
    var = (0.2 + 0.6 - 0.4**2) / 40 * 100**2
    z = -80 / math.sqrt(2 * var)
    assert df.loc["delivery", "p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert df.loc["delivery", "verdict"] == "lower"
    assert compare_touchpoints(surveyed, metric="nps", min_answers=41)["verdict"].eq("not enough answers").all()


def test_comparison_errors_and_empty(store):
    with pytest.raises(ParcoursError, match="`metric` 'stars'"):
        compare_touchpoints(store, metric="stars")
    with pytest.raises(ParcoursError, match="`min_answers`"):
        compare_touchpoints(store, min_answers=1)
    assert compare_touchpoints(store).empty


def test_behaviour_and_detractor_touchpoints(store, tmp_path):
    load_events(store, [
        # ann: detractor after a payment error, never bought
        ev("ann", "checkout_start", "2024-01-01T10:00:00Z"), ev("ann", "payment_error", "2024-01-01T10:01:00Z"),
        ev("ann", "survey_response", "2024-01-01T11:00:00Z", metric="nps", score=2),
        # bob: promoter at first, then detractor (latest answer counts), bought once before
        ev("bob", "purchase", "2024-01-01T09:00:00Z", revenue=100),
        ev("bob", "survey_response", "2024-01-01T10:00:00Z", metric="nps", score=10),
        ev("bob", "delivery_delayed", "2024-01-03T10:00:00Z"),
        ev("bob", "survey_response", "2024-01-03T11:00:00Z", metric="nps", score=5),
        # cat: promoter, bought before and after the answer
        ev("cat", "site_visit", "2024-01-01T08:00:00Z"),
        ev("cat", "purchase", "2024-01-01T09:00:00Z", revenue=50),
        ev("cat", "survey_response", "2024-01-01T10:00:00Z", metric="nps", score=9),
        ev("cat", "purchase", "2024-01-05T09:00:00Z", revenue=70, repeat=True),
        # dan: passive, no purchase
        ev("dan", "site_visit", "2024-01-01T08:00:00Z"),
        ev("dan", "survey_response", "2024-01-01T10:00:00Z", metric="nps", score=7),
    ], tmp_path)
    df = satisfaction_behaviour(store).set_index("nps_group")
    assert list(df.index) == ["promoter", "passive", "detractor"]
    assert df.loc["promoter"].to_dict() == {"customers": 1, "converted": 100.0, "repeat_buyers": 100.0,
                                            "bought_after_answer": 100.0, "revenue_per_customer": 120.0}
    assert df.loc["detractor", "customers"] == 2 and df.loc["detractor", "converted"] == 50.0
    assert df.loc["detractor", "bought_after_answer"] == 0.0 and df.loc["passive", "converted"] == 0.0
    assert df.loc["detractor", "revenue_per_customer"] == 50.0
    tps = detractor_touchpoints(store).set_index("touchpoint")
    assert tps.loc["checkout", "detractors"] == 1 and tps.loc["checkout", "detractor_share"] == 50.0
    assert tps.loc["delivery", "stage"] == "retention"
    assert tps.loc["purchase", "detractor_share"] == 50.0 and tps.loc["purchase", "others_share"] == 50.0
    assert tps.loc["purchase", "lift"] == 1.0 and tps.loc["checkout", "lift"] is None
    assert "web_page" not in tps.index  # only promoters and passives met it


def test_voc_scores_cli_json_is_the_stable_interface(store, tmp_path):
    load_events(store, answers("n", "nps", "delivery", [10, 9, 0]) + answers("c", "csat", "checkout", [5, 2]),
                tmp_path)
    db = store.path
    store.close()
    runner = CliRunner()
    for by in ("touchpoint", "stage", "channel"):
        result = runner.invoke(app, ["--db", db, "voc", "scores", "--by", by, "--format", "json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)
        keys = {by, "nps", "nps_answers", "nps_low", "nps_high", "csat", "csat_answers", "ces", "ces_answers"}
        assert all(keys <= set(r) for r in rows) and len(rows) == 2
    rows = {r["touchpoint"]: r for r in json.loads(
        runner.invoke(app, ["--db", db, "voc", "scores", "--by", "touchpoint", "--format", "json"]).output)}
    assert rows["delivery"]["nps"] == pytest.approx(100 / 3) and rows["delivery"]["nps_answers"] == 3
    assert rows["delivery"]["csat"] is None and rows["delivery"]["ces"] is None
    assert rows["checkout"]["csat"] == 50.0 and rows["checkout"]["nps"] is None
    assert rows["checkout"]["nps_answers"] == 0 and rows["checkout"]["nps_low"] is None
    table = runner.invoke(app, ["--db", db, "voc", "scores", "--by", "touchpoint"], env={"COLUMNS": "200"}).output
    low = 100 * (1 / 3 - 1.959964 * math.sqrt((1 - 1 / 9) / 3))  # Wald by hand: -73; the top clips at 100
    assert f"33 [{low:.0f}, 100]" in table  # NPS with its interval in one cell
    for args in (["emotion"], ["emotion", "--level", "touchpoint"], ["trend", "--period", "month"],
                 ["compare", "--metric", "csat"], ["behaviour"], ["detractor-touchpoints"], ["answers"],
                 ["webhooks", "log"], ["webhooks", "run"]):
        result = runner.invoke(app, ["--db", db, "voc", *args, "--format", "json"])
        assert result.exit_code == 0, (args, result.output)
        json.loads(result.output)


def test_voc_cli_bad_option_is_one_line_error(store, tmp_path):
    import subprocess
    import sys

    db = store.path
    store.close()
    result = subprocess.run([sys.executable, "-m", "parcours.cli.main", "--db", db, "voc", "scores", "--by", "colour"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: voc scores: --by 'colour' is not one of touchpoint, stage, channel"]


def test_demo_business_friction_shows_in_voc(store):
    from parcours.analytics.voc import emotion_curve
    from parcours.demo import PLANTED_FRICTION, load_demo

    load_demo(store, 2000, 7)
    assert {"web_form", "checkout"} <= set(PLANTED_FRICTION)
    ces = compare_touchpoints(store, metric="ces").set_index("touchpoint")
    assert ces.loc["web_form", "verdict"] == "lower"
    assert ces.loc["checkout", "value"] < ces.loc["checkout", "rest_value"]
    curve = emotion_curve(store, level="touchpoint")
    answered = curve[curve["answers"] >= 30].sort_values("emotion")
    assert set(answered["touchpoint"].head(2)) == {"web_form", "checkout"}
    assert (answered.set_index("touchpoint").loc[["web_form", "checkout"], "emotion"] < 0).all()
