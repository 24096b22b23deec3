"""Retention on a hand-computed example and on CDNOW's real repeat purchases."""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime

import pandas as pd
import pytest
import tomli_w
from conftest import load_events, shared_path
from typer.testing import CliRunner

import parcours
from parcours.analytics.retention.retention import (
    churn_risk,
    repeat_purchase_rate,
    retention,
    retention_curve,
)
from parcours.cli.main import app
from parcours.config import template_text
from parcours.errors import ParcoursError

# weeks start on Monday: 2024-03-04, 03-11, 03-18, 03-25
EVENTS = [
    ("u1", "site_visit", "2024-03-04T09:00:00Z", "ads"),
    ("u1", "purchase", "2024-03-05T09:00:00Z", None),
    ("u1", "purchase", "2024-03-12T09:00:00Z", None),
    ("u1", "purchase", "2024-03-26T09:00:00Z", None),
    ("u2", "site_visit", "2024-03-06T09:00:00Z", "email"),
    ("u2", "purchase", "2024-03-20T09:00:00Z", None),
    ("u3", "site_visit", "2024-03-11T09:00:00Z", "ads"),
    ("u3", "purchase", "2024-03-11T10:00:00Z", None),
]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, [
        {"user_id": u, "event": e, "timestamp": t, **({"channel": ch} if ch else {})} for u, e, t, ch in EVENTS
    ], tmp_path)
    return store


def _table(df: pd.DataFrame) -> dict:
    return {(str(r.cohort), r.period): (r.size, r.retained) for r in df.itertuples()}


def test_weekly_cohorts_by_first_event(shop):
    df = retention(shop, return_event="purchase", period="week")
    assert _table(df) == {
        ("2024-03-04", 0): (2, 1), ("2024-03-04", 1): (2, 1), ("2024-03-04", 2): (2, 1), ("2024-03-04", 3): (2, 1),
        ("2024-03-11", 0): (1, 1), ("2024-03-11", 1): (1, 0), ("2024-03-11", 2): (1, 0),
    }
    assert df["rate"].tolist() == [0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.0]
    assert isinstance(df["cohort"].iloc[0], date)


def test_first_purchase_cohorts_and_same_event_period_zero(shop):
    df = retention(shop, cohort_event="purchase", return_event="purchase", period="week")
    assert df[df.period == 0]["rate"].eq(1.0).all()
    assert _table(df)[("2024-03-04", 1)] == (1, 1)
    assert _table(df)[("2024-03-18", 1)] == (1, 0)
    months = retention(shop, cohort_event="purchase", return_event="purchase", period="month")
    assert _table(months) == {("2024-03-01", 0): (3, 3)}
    days = retention(shop, return_event="purchase", period="day")
    assert _table(days)[("2024-03-04", 1)] == (1, 1)  # u1 bought the next day


def test_breakdown_and_curve(shop):
    df = retention(shop, return_event="purchase", period="week", breakdown="channel")
    ads = df[df["group"] == "ads"]
    assert _table(ads)[("2024-03-04", 0)] == (1, 1) and _table(ads)[("2024-03-11", 0)] == (1, 1)
    assert _table(df[df["group"] == "email"])[("2024-03-04", 2)] == (1, 1)
    curve = retention_curve(shop, return_event="purchase", period="week").set_index("period")
    assert curve.loc[0, "size"] == 3 and curve.loc[0, "retained"] == 2
    assert curve.loc[3, "size"] == 2 and curve.loc[3, "cohorts"] == 1
    with pytest.raises(ParcoursError, match="`breakdown` 'colour'"):
        retention(shop, breakdown="colour")


def test_repeat_purchases_and_churn(shop):
    rep = repeat_purchase_rate(shop).iloc[0]
    assert (rep["buyers"], rep["repeat_buyers"], rep["purchases"]) == (3, 1, 5)
    assert rep["rate"] == pytest.approx(1 / 3)
    churn = churn_risk(shop, days=5)
    assert churn["customer_id"].tolist() == ["u3", "u2"]  # u1 active on the last day
    assert churn.iloc[0]["days_inactive"] == pytest.approx(14 + 23 / 24)
    assert churn_risk(shop, days=7, as_of=datetime(2024, 3, 21)).customer_id.tolist() == ["u3"]
    assert churn_risk(shop, days=7, min_events=3).empty
    with pytest.raises(ParcoursError, match="`days` 0"):
        churn_risk(shop, days=0)


def test_a_journey_that_ignores_no_event_keeps_every_event(shop):
    """With ``ignored_events = []`` nothing is left out (not everything: ``NOT IN (NULL)`` once dropped all)."""
    data = tomllib.loads(template_text("five-stages"))
    data["ignored_events"] = []
    shop.set_journey(tomli_w.dumps(data), "test")
    assert _table(retention(shop, return_event="purchase"))[("2024-03-04", 0)] == (2, 1)
    assert churn_risk(shop, days=5)["customer_id"].tolist() == ["u3", "u2"]


def test_bad_period_is_refused(shop):
    with pytest.raises(ParcoursError, match="`period` 'year'"):
        retention(shop, period="year")


def test_cli_json_is_stable(shop):
    shop.close()
    res = CliRunner().invoke(app, [
        "--db", shop.path, "retention", "--cohort-event", "site_visit", "--return-event", "purchase",
        "--period", "week", "--format", "json",
    ])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0] == {"cohort": "2024-03-04", "period": 0, "size": 2, "retained": 1, "rate": 0.5}
    assert len(rows) == 7
    bad = CliRunner().invoke(app, ["--db", shop.path, "retention", "--period", "year"])
    assert bad.exit_code != 0


def test_cdnow_repeat_purchases(store, tmp_path):
    """CDNOW: 23,570 customers whose first purchase is in Q1 1997, 69,659 transactions (SOURCE.md);
    monthly first-purchase cohorts checked against a pandas computation on the raw file."""
    raw = pd.read_csv(shared_path("data/cdnow_transactions/CDNOW_master.txt"), sep=r"\s+",
                      dtype={"customer_id": str, "date": str})
    csv = tmp_path / "cdnow.csv"
    pd.DataFrame({
        "user_id": raw["customer_id"], "event": "purchase",
        "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%dT00:00:00Z"),
        "revenue": raw["dollar_value"],
    }).to_csv(csv, index=False)
    assert parcours.import_file(store, csv).loaded == 69_659

    df = retention(store, cohort_event="purchase", return_event="purchase", period="month")
    sizes = df[df.period == 0].set_index("cohort")["size"]
    assert sizes.sum() == 23_570
    assert [str(c) for c in sizes.index] == ["1997-01-01", "1997-02-01", "1997-03-01"]

    raw["month"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.to_period("M")
    first = raw.groupby("customer_id")["month"].min().rename("cohort")
    raw = raw.join(first, on="customer_id")
    raw["period"] = (raw["month"] - raw["cohort"]).apply(lambda d: d.n)
    expected = raw.groupby(["cohort", "period"])["customer_id"].nunique()
    ours = df.assign(cohort=pd.PeriodIndex(pd.to_datetime(df["cohort"]), freq="M")).set_index(["cohort", "period"])
    assert ours.loc[expected.index, "retained"].tolist() == expected.tolist()
    assert ours.index.get_level_values("period").max() == 17  # Jan 1997 .. Jun 1998

    rep = repeat_purchase_rate(store).iloc[0]
    counts = raw.groupby("customer_id").size()
    assert rep["buyers"] == 23_570 and rep["repeat_buyers"] == (counts > 1).sum()
    assert rep["purchases"] == 69_659
