"""Conversion paths built from a small store, checked by hand, and the store side of the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.attribution import attribute_paths, attribution, check_channels, conversion_paths
from parcours.analytics.attribution.paths import PathTable, conversion_paths_query, read_path_text
from parcours.analytics.segments.segments import by_segment, create_segment
from parcours.cli.main import app
from parcours.errors import ParcoursError
from parcours.query.filter import Filter


def day(n: int) -> str:
    return f"2024-01-{n:02d}T10:00:00Z" if n <= 31 else f"2024-02-{n - 31:02d}T10:00:00Z"


EVENTS = [
    # u1: two campaigns, then a purchase, then a social click that leads nowhere
    {"user_id": "u1", "event": "ad_click", "timestamp": day(1), "utm_campaign": "spring"},
    {"user_id": "u1", "event": "email_open", "timestamp": day(2), "utm_campaign": "news"},
    {"user_id": "u1", "event": "purchase", "timestamp": day(3), "properties": {"revenue": 100}},
    {"user_id": "u1", "event": "social_click", "timestamp": day(4)},
    # u2: a social click 40 days before the ad that converts: outside a 30-day lookback
    {"user_id": "u2", "event": "social_click", "timestamp": day(1)},
    {"user_id": "u2", "event": "ad_click", "timestamp": day(40), "utm_campaign": "spring"},
    {"user_id": "u2", "event": "purchase", "timestamp": day(41), "properties": {"revenue": 50}},
    # u3: buys with no touch at all
    {"user_id": "u3", "event": "purchase", "timestamp": day(5), "properties": {"revenue": 5}},
    # u5: reads two emails, never buys
    {"user_id": "u5", "event": "email_open", "timestamp": day(1), "utm_campaign": "news"},
    {"user_id": "u5", "event": "email_open", "timestamp": day(2), "utm_campaign": "news"},
    # u6: one ad, two purchases (the second has no new touch); a touch at the purchase instant counts
    {"user_id": "u6", "event": "ad_click", "timestamp": day(1)},
    {"user_id": "u6", "event": "purchase", "timestamp": day(2), "properties": {"revenue": 10}},
    {"user_id": "u6", "event": "site_visit", "timestamp": day(3)},
    {"user_id": "u6", "event": "purchase", "timestamp": day(3), "properties": {"revenue": 20, "repeat": True}},
]


@pytest.fixture
def shop(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    return store


def rows(table) -> set[tuple]:
    return {(r.path, r.total_conversions, r.total_conversion_value, r.total_null)
            for r in table.to_frame().itertuples()}


def test_channel_paths_by_hand(shop):
    assert rows(conversion_paths(shop, touches="stage:awareness")) == {
        ("ads > email", 1, 100, 0),  # u1
        ("social", 0, 0, 1),  # u1 after buying
        ("ads", 2, 60, 0),  # u2 (social too old) and u6's first purchase
        ("(none)", 2, 25, 0),  # u3, u6's repeat purchase
        ("email > email", 0, 0, 1),  # u5
    }


def test_every_mapped_event_is_a_touch_by_default(shop):
    paths = rows(conversion_paths(shop))
    assert ("web", 1, 20, 0) in paths  # u6's site visit at the instant of the repeat purchase


def test_longer_lookback_reaches_older_touches(shop):
    assert ("social > ads", 1, 50, 0) in rows(conversion_paths(shop, lookback="60d", touches="stage:awareness"))


def test_campaign_and_touchpoint_levels(shop):
    assert rows(conversion_paths(shop, level="campaign")) == {
        ("spring > news", 1, 100, 0), ("spring", 1, 50, 0), ("news > news", 0, 0, 1), ("(none)", 3, 35, 0)}
    assert ("display_ad > email_campaign", 1, 100, 0) in rows(conversion_paths(shop, level="touchpoint"))


def test_conversion_can_be_a_touchpoint_or_reaching_a_stage(shop):
    # an email open as the conversion: u1's ad leads to one; u5's two opens convert with no touch before;
    # u2's and u6's ads lead to no email, u1's social click neither
    by_email = rows(conversion_paths(shop, conversion="touchpoint:email_campaign", touches="stage:awareness"))
    assert by_email == {("ads", 1, 0, 2), ("(none)", 2, 0, 0), ("social", 0, 0, 1)}
    # reaching the retention stage: only u6's repeat purchase (the first retention event) converts;
    # u1 (purchase is a decision event), u2 and u5 never reach retention
    retention = rows(conversion_paths(shop, conversion="stage:retention", touches="stage:awareness"))
    assert retention == {("ads", 1, 20, 1), ("ads > email > social", 0, 0, 1), ("email > email", 0, 0, 1)}


def test_attribution_from_the_store(shop):
    result = attribution(shop, ["last_touch", "markov"], touches="stage:awareness").set_index(["model", "channel"])
    assert result.loc[("last_touch", "ads"), "conversions"] == 2
    assert result.loc[("last_touch", "email"), "value"] == 100
    assert result.xs("markov")["conversions"].sum() == pytest.approx(5)


def test_bad_store_options(shop, store):
    with pytest.raises(ParcoursError, match="level 'utm'"):
        conversion_paths(shop, level="utm")
    with pytest.raises(ParcoursError, match="`lookback` 'soon'"):
        conversion_paths(shop, lookback="soon")
    with pytest.raises(ParcoursError, match="`lookback` '-3d': must be positive"):
        conversion_paths(shop, lookback="-3d")
    with pytest.raises(ParcoursError, match="no channel touches"):
        conversion_paths(shop, conversion="nothing_like_this", touches="nothing_either")


def test_cli_on_the_store(shop):
    db = shop.path
    shop.close()
    res = CliRunner().invoke(app, ["--db", db, "attribution", "--model", "first_touch", "--level", "campaign",
                                   "--lookback", "30d", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {r["channel"]: (r["conversions"], r["value"]) for r in json.loads(res.stdout)}
    assert got == {"spring": (2.0, 150.0), "(none)": (3.0, 35.0), "news": (0.0, 0.0)}


# -- time decay with a half-life in time ---------------------------------------------------------
def at(d: float) -> str:
    """2024-03-01 00:00 UTC plus ``d`` days."""
    return (datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=d)).isoformat().replace("+00:00", "Z")


DECAY_EVENTS = [
    # d1: ads 7 days before the purchase (weight 1/2), email at its instant (1): shares 1/3, 2/3
    {"user_id": "d1", "event": "ad_click", "timestamp": at(0)},
    {"user_id": "d1", "event": "email_open", "timestamp": at(7)},
    {"user_id": "d1", "event": "purchase", "timestamp": at(7), "properties": {"revenue": 90}},
    # d2: the same path, other times: ads 14 days before (1/4), email 0 days (1): shares 1/5, 4/5
    {"user_id": "d2", "event": "ad_click", "timestamp": at(1)},
    {"user_id": "d2", "event": "email_open", "timestamp": at(15)},
    {"user_id": "d2", "event": "purchase", "timestamp": at(15), "properties": {"revenue": 50}},
    # d3: two ads: whatever their weights, all to ads
    {"user_id": "d3", "event": "ad_click", "timestamp": at(0)},
    {"user_id": "d3", "event": "ad_click", "timestamp": at(3.5)},
    {"user_id": "d3", "event": "purchase", "timestamp": at(7), "properties": {"revenue": 20}},
    # d4: buys with no touch; d5: an email, no purchase
    {"user_id": "d4", "event": "purchase", "timestamp": at(2), "properties": {"revenue": 5}},
    {"user_id": "d5", "event": "email_open", "timestamp": at(1)},
]


@pytest.fixture
def decay_shop(store, tmp_path):
    load_events(store, DECAY_EVENTS, tmp_path)
    return store


def test_time_decay_in_days_by_hand(decay_shop):
    result = attribution(decay_shop, "time_decay", half_life="7d", touches="stage:awareness").set_index("channel")
    assert result.loc["ads", "conversions"] == pytest.approx(1 / 3 + 1 / 5 + 1)
    assert result.loc["email", "conversions"] == pytest.approx(2 / 3 + 4 / 5)
    assert result.loc["(none)", "conversions"] == pytest.approx(1)
    assert result.loc["ads", "value"] == pytest.approx(90 / 3 + 50 / 5 + 20)
    assert result.loc["email", "value"] == pytest.approx(90 * 2 / 3 + 50 * 4 / 5)
    assert result["conversions"].sum() == pytest.approx(4) and result["value"].sum() == pytest.approx(165)
    # a half-life of 14 days: d1's ads weigh 2^-0.5, d2's 2^-1
    longer = attribution(decay_shop, "time_decay", half_life="14d", touches="stage:awareness").set_index("channel")
    w = 2 ** -0.5
    assert longer.loc["email", "conversions"] == pytest.approx(1 / (1 + w) + 2 / 3)


def test_time_decay_default_on_a_store_is_seven_days(decay_shop):
    result = attribution(decay_shop, "time_decay", touches="stage:awareness").set_index("channel")
    assert result.loc["email", "conversions"] == pytest.approx(2 / 3 + 4 / 5)


def test_store_paths_carry_decay_per_position(decay_shop):
    table = conversion_paths(decay_shop, touches="stage:awareness", half_life="7d")
    assert table.half_life == timedelta(days=7)
    by_path = {p: (table.decay_conversions[a:b].tolist(), table.conversions[i])
               for i, (p, a, b) in enumerate(zip(table.paths(), table.offsets[:-1], table.offsets[1:], strict=True))}
    assert by_path["ads > email"][1] == 2
    assert by_path["ads > email"][0] == pytest.approx([1 / 3 + 1 / 5, 2 / 3 + 4 / 5])
    assert by_path["ads > ads"][0] == pytest.approx([2 ** -0.5 / (1 + 2 ** -0.5), 1 / (1 + 2 ** -0.5)])
    assert by_path["email"] == ([0.0], 0)  # d5 did not convert
    assert by_path["(none)"] == ([1.0], 1)
    # the rest of the table is the one built without a half-life
    plain = conversion_paths(decay_shop, touches="stage:awareness")
    assert rows(plain) == rows(table)


def test_old_touches_do_not_underflow(decay_shop):
    """A one-minute half-life over days: weights far below the smallest double, still normalised."""
    result = attribution(decay_shop, "time_decay", half_life="1m", touches="stage:awareness").set_index("channel")
    assert result.loc["email", "conversions"] == pytest.approx(2)
    assert result.loc["ads", "conversions"] == pytest.approx(1)
    assert result["conversions"].sum() == pytest.approx(4)


def test_path_sql_transpiles_to_spark(decay_shop):
    import sqlglot

    query = conversion_paths_query(decay_shop, touches="stage:awareness", half_life="7d")
    spark = query.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert "UNIX_TIMESTAMP" in spark and "POWER" in spark


def test_bad_half_lives(decay_shop):
    with pytest.raises(ParcoursError, match="`half_life` 'soon': not a duration"):
        attribution(decay_shop, "time_decay", half_life="soon")
    with pytest.raises(ParcoursError, match="`half_life` '0d': must be positive"):
        attribution(decay_shop, "time_decay", half_life="0d")
    table = conversion_paths(decay_shop, touches="stage:awareness", half_life="7d")
    with pytest.raises(ParcoursError, match="weighed with a half-life of 7 days"):
        attribute_paths(table, "time_decay", half_life="3d")
    assert attribute_paths(table, "time_decay", half_life="7d")["conversions"].sum() == pytest.approx(4)
    file_paths = PathTable.from_frame(table.to_frame())  # the same paths as a file: no times
    with pytest.raises(ParcoursError, match="a path file has no times"):
        attribute_paths(file_paths, "time_decay", half_life="7d")


def test_cli_half_life_in_time_on_the_store(decay_shop, tmp_path):
    db = decay_shop.path
    decay_shop.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", db, "attribution", "--model", "time_decay", "--half-life", "7d",
                              "--touches", "stage:awareness", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {r["channel"]: r["conversions"] for r in json.loads(res.stdout)}
    assert got == pytest.approx({"ads": 1 / 3 + 1 / 5 + 1, "email": 2 / 3 + 4 / 5, "(none)": 1})
    f = tmp_path / "p.csv"
    f.write_text("path,total_conversions\na > b,1\n")
    res = runner.invoke(app, ["attribution", "--paths", str(f), "--model", "time_decay", "--half-life", "7d"])
    assert isinstance(res.exception, ParcoursError) and "a path file has no times" in str(res.exception)
    res = runner.invoke(app, ["attribution", "--paths", str(f), "--model", "time_decay", "--half-life", "1",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    assert {r["channel"]: r["conversions"] for r in json.loads(res.stdout)} == pytest.approx({"a": 1 / 3, "b": 2 / 3})


# -- known channels -------------------------------------------------------------------------------
def test_unknown_channel_in_a_path_file_names_the_line():
    table = read_path_text("path,total_conversions\nads > email,1\nads > tiktok > email,2\n", origin="f.csv")
    assert check_channels(table, ["ads", "email", "tiktok"]) is table
    with pytest.raises(ParcoursError, match=r"f.csv line 3: unknown channel 'tiktok' in path 'ads > tiktok > email' "
                                            r"\(known: ads, email\)"):
        attribute_paths(table, "linear", channels="ads, email")
    with pytest.raises(ParcoursError, match="list of known channels is empty"):
        attribute_paths(table, "linear", channels=" , ")


def test_unknown_channel_against_the_journey_map(shop, tmp_path):
    # every channel of the shop's events comes from its touchpoints: known to the journey
    assert attribution(shop, "linear", channels="journey")["conversions"].sum() == pytest.approx(5)
    extra = [{"user_id": "u9", "event": "ad_click", "timestamp": day(6), "channel": "tiktok"},
             {"user_id": "u9", "event": "purchase", "timestamp": day(7), "properties": {"revenue": 1}}]
    load_events(shop, extra, tmp_path)
    with pytest.raises(ParcoursError, match=r"store paths, path 'tiktok': unknown channel 'tiktok' \(known: .*ads"):
        attribution(shop, "linear", channels="journey")
    assert attribution(shop, "linear", level="touchpoint", channels="journey")["conversions"].sum() == pytest.approx(6)
    with pytest.raises(ParcoursError, match="journey map lists no campaigns"):
        attribution(shop, "linear", level="campaign", channels="journey")
    with pytest.raises(ParcoursError, match="only paths built from the store have a journey map"):
        attribute_paths(conversion_paths(shop), "linear", channels="journey")


def test_cli_channels_option(shop, tmp_path):
    db = shop.path
    shop.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", db, "attribution", "--channels", "ads,email", "--touches", "stage:awareness",
                              "--format", "json"])
    assert isinstance(res.exception, ParcoursError)
    assert "unknown channel 'social'" in str(res.exception)
    res = runner.invoke(app, ["--db", db, "attribution", "--channels", "journey", "-m", "last_touch", "-f", "json"])
    assert res.exit_code == 0, res.output
    f = tmp_path / "p.csv"
    f.write_text("path,total_conversions\na > b,1\na > c,1\n")
    res = runner.invoke(app, ["attribution", "--paths", str(f), "--channels", "a,b"])
    assert isinstance(res.exception, ParcoursError) and "line 3: unknown channel 'c'" in str(res.exception)


# -- segments -------------------------------------------------------------------------------------
def test_attribution_by_segment(shop):
    create_segment(shop, "spring", "events('ad_click') >= 1")  # u1, u2, u6: not u3, u5
    filter = Filter(segment="spring")
    result = attribution(shop, "last_touch", filter=filter, touches="stage:awareness").set_index("channel")
    assert result["conversions"].sum() == 4  # u1, u2, u6 twice; u3's purchase is left out
    assert result.loc["(none)", "conversions"] == 1 and result.loc["ads", "conversions"] == 2
    stacked = by_segment(shop, attribution, ["spring"], include_all=True, models="last_touch",
                         touches="stage:awareness")
    totals = stacked.groupby("segment")["conversions"].sum()
    assert totals.to_dict() == {"all": 5, "spring": 4}


def test_cli_segment_on_the_store(shop):
    create_segment(shop, "spring", "events('ad_click') >= 1")
    db = shop.path
    shop.close()
    res = CliRunner().invoke(app, ["--db", db, "attribution", "--segment", "spring", "--model", "first_touch",
                                   "--level", "campaign", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {r["channel"]: (r["conversions"], r["value"]) for r in json.loads(res.stdout)}
    assert got == {"spring": (2.0, 150.0), "(none)": (2.0, 30.0), "news": (0.0, 0.0)}
    res = CliRunner().invoke(app, ["--db", db, "attribution", "--segment", "nobody", "-f", "json"])
    assert res.exit_code != 0 and "no such segment" in str(res.exception)


# -- time decay on the demo business: checks against other models ---------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import parcours
    from parcours.demo import load_demo

    store = parcours.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store, customers=800, seed=5)
    yield store
    store.close()


def test_decay_credit_of_every_path_sums_to_its_conversions(demo):
    table = conversion_paths(demo, half_life="2d")
    starts = table.offsets[:-1]
    np.testing.assert_allclose(np.add.reduceat(table.decay_conversions, starts), table.conversions, rtol=1e-9)
    np.testing.assert_allclose(np.add.reduceat(table.decay_value, starts), table.value, rtol=1e-9, atol=1e-9)


def test_a_very_long_half_life_is_linear(demo):
    """Ages of days against the longest half-life accepted (100 years): every weight is 1 to within 0.3%."""
    both = attribution(demo, ["linear", "time_decay"], half_life="36500d").pivot(
        index="channel", columns="model", values="conversions")
    assert both["linear"].sum() > 10
    np.testing.assert_allclose(both["time_decay"], both["linear"], rtol=3e-3, atol=1e-9)
