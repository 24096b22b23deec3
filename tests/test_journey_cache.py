"""The materialized journey relation: every write path makes it stale, and analyses give the
same answers from it as from the live relation."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import load_events

import parcours
from parcours.analytics.filters import events_sql
from parcours.config import template_text
from parcours.journey.materialized import TABLE, built_stamp, is_fresh, journey_source, refresh, stamp
from parcours.query import sql, table
from parcours.query.filter import Filter
from parcours.query.journey import journey
from parcours.server.applier import apply_records
from parcours.server.gdpr import apply_retention, erase_person, scrub_property
from parcours.server.wal import Position


def ev(day: int, event: str, **kw) -> dict:
    return {"event": event, "timestamp": f"2024-03-{day:02d}T10:00:00Z", **kw}


EVENTS = [
    ev(1, "ad_click", anonymous_id="a1", utm_source="google", utm_medium="cpc", utm_campaign="spring"),
    ev(1, "site_visit", anonymous_id="a1"),
    ev(2, "product_view", user_id="ann", anonymous_id="a1", properties={"email": "ann@example.com"}),
    ev(3, "add_to_cart", user_id="ann", properties={"cart_value": 80}),
    ev(4, "purchase", user_id="ann", properties={"revenue": 80}),
    ev(20, "purchase", user_id="ann", properties={"revenue": 30, "repeat": True}),
    ev(2, "search_click", user_id="bob"),
    ev(2, "site_visit", user_id="bob"),
    ev(9, "chat_message", user_id="bob"),
    ev(10, "product_view", user_id="bob"),
    ev(5, "email_open", user_id="cat", utm_campaign="news"),
    ev(12, "site_visit", user_id="cat", properties={"email": "cat@example.com"}),
    ev(13, "unmapped_thing", user_id="cat"),
]


def relation(store) -> pd.DataFrame:
    return store.engine.df(f"{events_sql(store)} ORDER BY message_id").reset_index(drop=True)


def live(store) -> pd.DataFrame:
    return store.engine.df(sql("SELECT * FROM {j} ORDER BY message_id", j=journey(store.config))).reset_index(drop=True)


def assert_built_and_equal(store) -> None:
    got = relation(store)
    assert is_fresh(store) and journey_source(store).sql() == TABLE
    pd.testing.assert_frame_equal(got, live(store))


@pytest.fixture
def loaded(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    assert_built_and_equal(store)
    return store


def test_the_table_is_sorted_by_customer_and_time_and_has_the_relations_columns(loaded):
    rows = loaded.con.execute(f"SELECT customer_id, timestamp FROM {TABLE}").fetchall()
    assert rows == sorted(rows) and len(rows) == len(EVENTS)
    def columns(query) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in loaded.execute(sql("DESCRIBE {q}", q=query)).fetchall()]

    assert columns(table(TABLE)) == columns(journey(loaded.config))


def test_a_fresh_table_is_not_rebuilt(loaded):
    stamp = built_stamp(loaded)
    version = loaded.data_version()
    relation(loaded)
    assert built_stamp(loaded) == stamp and loaded.data_version() == version


def _stale(store, version: int) -> None:
    assert store.data_version() > version
    assert built_stamp(store) is None  # the write dropped the copy


def _caught_up(store, version: int, customers: int) -> None:
    """An append-only or stitching write keeps the stale copy; a refresh recomputes its customers only."""
    assert store.data_version() > version
    assert built_stamp(store) is not None and not is_fresh(store)
    done = refresh(store)
    assert (done.how, done.customers) == ("incremental", customers)


def test_import_invalidates(loaded, tmp_path):
    v = loaded.data_version()
    load_events(loaded, [ev(15, "review_posted", user_id="bob")], tmp_path, name="more.jsonl")
    _caught_up(loaded, v, 1)
    assert_built_and_equal(loaded)
    assert "review_posted" in set(relation(loaded)["event"])


def test_stitching_invalidates(loaded, tmp_path):
    # imported without stitching: the new link reaches the relation only when stitch runs
    load_events(loaded, [ev(16, "site_visit", user_id="cat2", properties={"email": "cat@example.com"})],
                tmp_path, name="more.jsonl", stitch=False)
    assert_built_and_equal(loaded)
    v = loaded.data_version()
    parcours.stitch(loaded)
    _caught_up(loaded, v, 2)  # cat2 joins cat: both recomputed
    assert_built_and_equal(loaded)
    assert set(relation(loaded).query("user_id == 'cat2'")["customer_id"]) == {"cat"}


def test_unmerge_invalidates(loaded, tmp_path):
    # a later batch wrongly joins bob to ann through a shared email
    load_events(loaded, [ev(17, "site_visit", user_id="bob", properties={"email": "ann@example.com"})],
                tmp_path, name="more.jsonl")
    assert set(relation(loaded).query("user_id == 'bob'")["customer_id"]) == {"ann"}
    log = parcours.merges(loaded)
    v = loaded.data_version()
    parcours.unmerge(loaded, int(log["merge_id"].iloc[-1]))
    _caught_up(loaded, v, 2)  # ann (bob's customer before) and bob
    assert_built_and_equal(loaded)
    assert set(relation(loaded).query("user_id == 'bob'")["customer_id"]) == {"bob"}


def test_setting_the_journey_invalidates(loaded):
    before = relation(loaded)
    v = loaded.data_version()
    loaded.set_journey(template_text("ecommerce"), "ecommerce")
    _stale(loaded, v)
    assert_built_and_equal(loaded)
    assert not relation(loaded)["touchpoint"].equals(before["touchpoint"])


def test_a_changed_journey_is_seen_even_without_a_write(loaded):
    # another connection set the journey map: the config hash in the stamp differs
    loaded._config = parcours.parse_config(template_text("ecommerce"), "ecommerce")
    assert not is_fresh(loaded)
    assert_built_and_equal(loaded)


def test_the_collector_applier_invalidates(loaded, tmp_path):
    row = {"message_id": "w1", "type": "track", "event": "delivery", "timestamp": "2024-03-21T10:00:00Z",
           "received_at": "2024-03-21T10:00:01Z", "user_id": "ann", "anonymous_id": None, "previous_id": None,
           "channel": "web", "utm_source": None, "utm_medium": None, "utm_campaign": None,
           "properties": {}, "context": {}}
    v = loaded.data_version()
    assert apply_records(loaded, tmp_path, [{"s": "web", "e": row}], Position(1, 10)) == 1
    _caught_up(loaded, v, 1)
    assert_built_and_equal(loaded)
    assert "w1" in set(relation(loaded)["message_id"])


def test_gdpr_erase_invalidates_and_leaves_no_copy(loaded):
    v = loaded.data_version()
    erase_person(loaded, "ann")
    _stale(loaded, v)
    assert_built_and_equal(loaded)
    assert not {"ann", "a1"} & set(relation(loaded)["customer_id"])


def test_gdpr_retention_invalidates(loaded):
    v = loaded.data_version()
    assert apply_retention(loaded, 1) == len(EVENTS)  # all of 2024-03 is older than a day
    _stale(loaded, v)
    assert_built_and_equal(loaded)
    assert relation(loaded).empty


def test_gdpr_scrub_invalidates(loaded):
    v = loaded.data_version()
    assert scrub_property(loaded, "email") == 2
    _stale(loaded, v)
    assert_built_and_equal(loaded)
    assert not relation(loaded)["properties"].str.contains("example.com").any()


def test_a_failed_write_changes_nothing(loaded):
    v, stamp = loaded.data_version(), built_stamp(loaded)
    with pytest.raises(RuntimeError), loaded.transaction():
        loaded.con.execute("DELETE FROM events")
        raise RuntimeError("boom")
    assert loaded.data_version() == v and built_stamp(loaded) == stamp
    assert_built_and_equal(loaded)


def test_read_only_stores_read_the_live_relation(loaded, tmp_path):
    path = loaded.path
    load_events(loaded, [ev(15, "review_posted", user_id="bob")], tmp_path, name="more.jsonl")  # now stale
    expected = live(loaded)
    loaded.close()
    with parcours.open(path, read_only=True) as ro:
        assert journey_source(ro).sql() != TABLE
        pd.testing.assert_frame_equal(relation(ro), expected)
        assert built_stamp(ro) != stamp(ro)  # nothing was written: the copy from before the import


def test_other_engines_read_the_live_relation(loaded):
    loaded.engine_name = "spark"  # the engine itself is not started: only the SQL text is asked for
    assert journey_source(loaded).sql() == f"({journey(loaded.config).sql()})"


def test_inside_a_transaction_the_live_relation_is_read(loaded, tmp_path):
    load_events(loaded, [ev(15, "review_posted", user_id="bob")], tmp_path, name="more.jsonl")
    with loaded.transaction(changes_data=False):
        assert journey_source(loaded).sql() != TABLE
    assert not is_fresh(loaded)


ANALYSES = {
    "dfg": lambda s, f: parcours.dfg(s, filter=f),
    "flows": lambda s, f: parcours.flows(s, filter=f),
    "top_paths": lambda s, f: parcours.top_paths(s, filter=f),
    "loops": lambda s, f: parcours.loops(s, filter=f),
    "stage_progression": lambda s, f: parcours.stage_progression(s, filter=f),
    "retention": lambda s, f: parcours.retention(s, "site_visit", "site_visit", period="week", filter=f),
    "funnel": lambda s, f: parcours.funnel(s, ["touchpoint:web_page", "touchpoint:product_page"], filter=f),
    "friction": lambda s, f: parcours.friction(s, filter=f),
}


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_analyses_agree_with_and_without_the_table(store, tmp_path, name):
    load_events(store, EVENTS, tmp_path)
    filter = Filter(start="2024-03-02T00:00:00Z")
    path = store.path
    store.close()
    # without: a read-only connection reads the live relation (the store holds no table yet)
    with parcours.open(path, read_only=True) as ro:
        assert journey_source(ro).sql() != TABLE
        expected = [ANALYSES[name](ro, None), ANALYSES[name](ro, filter)]
    with parcours.open(path) as rw:
        got = [ANALYSES[name](rw, None), ANALYSES[name](rw, filter)]
        assert journey_source(rw).sql() == TABLE
    for g, e in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(g.reset_index(drop=True), e.reset_index(drop=True))


def test_writes_that_leave_the_journey_data_alone_keep_the_table(loaded):
    stamp = built_stamp(loaded)
    parcours.create_segment(loaded, "buyers", "purchases >= 1")
    assert built_stamp(loaded) == stamp and journey_source(loaded).sql() == TABLE
    # and the segment filter still narrows the table's rows
    members = relation(loaded)
    narrowed = loaded.engine.df(events_sql(loaded, Filter(segment="buyers")))
    assert set(narrowed["customer_id"]) == {"ann"} and len(narrowed) < len(members)


def test_cli_refresh_builds_the_table_for_read_only_analyses(store, tmp_path, capsys):
    from clirun import run

    load_events(store, EVENTS, tmp_path)
    path = store.path
    store.close()
    first = run(capsys, "--db", path, "journey", "refresh")
    assert first.code == 0 and f"rebuilt, {len(EVENTS)} events" in first.out
    assert "up to date" in run(capsys, "--db", path, "journey", "refresh").out
    with parcours.open(path, read_only=True) as ro:
        assert journey_source(ro).sql() == TABLE
    dfg = run(capsys, "--db", path, "paths", "--dfg", "--format", "json")
    assert dfg.code == 0 and {"source", "target", "count"} <= set(dfg.json()[0])
