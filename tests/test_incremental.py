"""Incremental derived tables: after random appends (same-time events, identifies and shared
emails that merge customers, events older than the stored ones, unmerges), catching up the
materialized journey and the stored step sequences gives exactly the rows of a full rebuild."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import load_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parcours
from parcours.analytics.paths import sequences
from parcours.analytics.paths.sequences import BY_LEVELS, STEPS
from parcours.journey import materialized
from parcours.journey.live_state import STATE
from parcours.journey.materialized import JOURNEY, is_fresh, materialize, refresh, refresh_all

RELATIONS = [JOURNEY, *(STEPS[by] for by in BY_LEVELS), STATE]

EVENT = st.fixed_dictionaries({
    "event": st.sampled_from(["site_visit", "product_view", "add_to_cart", "purchase", "chat_message",
                              "unmapped_thing", "identify"]),
    # few distinct times: many events share a timestamp; some land before the stored ones
    "timestamp": st.builds("2024-03-0{}T1{}:00:00Z".format, st.integers(1, 4), st.integers(0, 2)),
    "who": st.sampled_from(["user", "anon", "both"]),
    "user_id": st.sampled_from(["u1", "u2", "u3"]),
    "anonymous_id": st.sampled_from(["a1", "a2", "a3", "a4"]),
    "email": st.sampled_from([None, None, "x@example.com", "y@example.com"]),
})


def _event(e: dict) -> dict:
    out = {"event": e["event"], "timestamp": e["timestamp"],
           "type": "identify" if e["event"] == "identify" else "track"}
    if e["who"] != "anon":
        out["user_id"] = e["user_id"]
    if e["who"] != "user":
        out["anonymous_id"] = e["anonymous_id"]
    if e["email"]:
        out["properties"] = {"email": e["email"]}
    return out


#: a write: a batch imported (stitched at once or not), or the latest merge undone
STEP = st.one_of(
    st.tuples(st.just("import"), st.lists(EVENT, min_size=1, max_size=4), st.booleans(), st.booleans()),
    st.tuples(st.just("unmerge"), st.just([]), st.just(True), st.booleans()),
)


def rows(store, relation) -> list[tuple]:
    # the state's ``version`` says when a row was computed: a rebuild computes every row now
    return store.con.execute(
        f"SELECT COLUMNS(lambda c: c <> 'version')::VARCHAR FROM {relation.table} ORDER BY ALL").fetchall()


def take_every_tail(monkeypatch) -> None:
    """Make every catch-up take its table's trailing partial row groups along (in a small table: all
    of it, no group being full), as catch-ups of a row group's worth of events do."""
    monkeypatch.setattr(materialized, "TAKE_TAIL_FROM", 0)
    monkeypatch.setattr(materialized, "ROW_GROUP_ROWS", 1)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.lists(EVENT, min_size=1, max_size=5), steps=st.lists(STEP, min_size=1, max_size=4),
       rewrite=st.booleans(), take_tail=st.booleans())
def test_catching_up_equals_a_full_rebuild(first, steps, rewrite, take_tail):
    # both ways of catching a step table up: kept rows updated in place, or deleted and inserted
    # again; and the catch-ups inserting their table's trailing partial row groups again, or not
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sequences, "REWRITE_SHARE", 10.0 if rewrite else 0.0)
        if take_tail:
            take_every_tail(patch)
        _catch_up_and_rebuild(first, steps)


def _catch_up_and_rebuild(first, steps):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with parcours.open(tmp / "s.duckdb") as store:
            load_events(store, [_event(e) for e in first], tmp, name="first.jsonl")
            for relation in RELATIONS:
                refresh(store, relation)
            for i, (kind, events, stitch_now, refresh_now) in enumerate(steps):
                if kind == "import":
                    load_events(store, [_event(e) for e in events], tmp, name=f"b{i}.jsonl", stitch=stitch_now)
                else:
                    log = parcours.merges(store)
                    undone = {int(r.split()[-1]) for r in log.query("action == 'unmerge'")["reason"]}
                    merges = [m for m in log.query("action == 'merge'")["merge_id"] if m not in undone]
                    if merges:
                        parcours.unmerge(store, int(merges[-1]))
                if refresh_now:
                    refresh(store, RELATIONS[1 + i % 4])
            parcours.stitch(store)
            # all at once, as `journey refresh` does: the tables share one set of changed customers
            done = {r.name: d.how for r, d in zip(RELATIONS, refresh_all(store, RELATIONS), strict=True)}
            assert done["journey"] in ("incremental", "fresh")  # appends and stitching never rebuild it
            caught_up = {r.name: rows(store, r) for r in RELATIONS}
            for relation in RELATIONS:
                materialize(store, relation)
                assert is_fresh(store, relation)
                assert rows(store, relation) == caught_up[relation.name], relation.name


def test_a_gdpr_erase_or_a_new_map_rebuilds_whole(store, tmp_path):
    from parcours.config import template_text
    from parcours.server.gdpr import erase_person

    load_events(store, [_event({"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "who": "both",
                                "user_id": "u1", "anonymous_id": "a1", "email": "x@example.com"})], tmp_path)
    refresh(store)
    erase_person(store, "u1")
    assert refresh(store).how == "full"
    assert store.con.execute("SELECT count(*) FROM data_changes WHERE customer_id IS NOT NULL").fetchone()[0] == 0
    store.set_journey(template_text("ecommerce"), "ecommerce")
    assert refresh(store).how == "full" and refresh(store).how == "fresh"


def test_an_append_with_a_new_step_name_rebuilds_that_level_only(store, tmp_path):
    one = {"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "user_id": "u1"}
    load_events(store, [one], tmp_path)
    for relation in RELATIONS:
        refresh(store, relation)
    load_events(store, [{**one, "event": "never_seen_before"}], tmp_path, name="more.jsonl")
    assert refresh(store, STEPS["event"]).how == "full"  # the new name has no code in the table
    assert refresh(store, STEPS["touchpoint"]).how == "incremental"  # it maps to no touchpoint


def test_cli_refresh_says_what_it_did(store, tmp_path, capsys):
    from clirun import run

    one = {"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "user_id": "u1"}
    load_events(store, [one, {**one, "user_id": "u2", "event": "purchase"}], tmp_path)
    path = store.path
    store.close()
    assert "rebuilt, 2 events" in run(capsys, "--db", path, "journey", "refresh").out
    with parcours.open(path) as s:
        load_events(s, [{**one, "event": "purchase"}], tmp_path, name="more.jsonl")
    out = run(capsys, "--db", path, "journey", "refresh").out
    assert "updated incrementally for 1 customers, 3 events" in out
    assert "up to date" in run(capsys, "--db", path, "journey", "refresh").out


def test_a_store_without_the_log_rebuilds(store, tmp_path):
    one = {"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "user_id": "u1"}
    load_events(store, [one], tmp_path)
    refresh(store)
    load_events(store, [{**one, "event": "purchase"}], tmp_path, name="more.jsonl")
    store.con.execute("DELETE FROM data_changes")  # as a store written before the log
    assert refresh(store).how == "full"


def test_tables_of_an_older_layout_are_rebuilt_not_caught_up(store, tmp_path, monkeypatch):
    """A table built by a parcours whose derived tables had other columns (step rows that looked
    ahead) is rebuilt whole, even after a plain append: reading or catching it up would mix layouts."""
    one = {"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "user_id": "u1"}
    load_events(store, [one], tmp_path)
    steps = STEPS["touchpoint"]
    refresh_all(store, (JOURNEY, steps))
    monkeypatch.setattr(materialized, "LAYOUT", materialized.LAYOUT + 1)  # as this code meets an older table
    assert not is_fresh(store, steps)
    load_events(store, [{**one, "event": "purchase", "timestamp": "2024-03-02T10:00:00Z"}], tmp_path, name="more.jsonl")
    assert [d.how for d in refresh_all(store, (JOURNEY, steps))] == ["full", "full"]
    assert [d.how for d in refresh_all(store, (JOURNEY, steps))] == ["fresh", "fresh"]
    assert store.con.execute(f"SELECT list(prev_step::VARCHAR ORDER BY seq) FROM {steps.table}").fetchone()[0] \
        == [None, "web_page"]


def test_an_identify_moves_the_earlier_anonymous_events_and_only_those(store, tmp_path):
    """The two cases of a moved identifier: one with earlier events (re-read, deleted and inserted
    again under the new customer) and one first seen in the batch (nothing to move)."""
    visit = {"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "anonymous_id": "a1"}
    load_events(store, [visit, {**visit, "anonymous_id": "a9", "event": "product_view"}], tmp_path)
    for relation in RELATIONS:
        refresh(store, relation)
    load_events(store, [
        {"event": "identify", "type": "identify", "timestamp": "2024-03-02T10:00:00Z", "user_id": "u1",
         "anonymous_id": "a1"},
        {"event": "identify", "type": "identify", "timestamp": "2024-03-02T11:00:00Z", "user_id": "u2",
         "anonymous_id": "new"},
    ], tmp_path, name="identify.jsonl")
    done = refresh_all(store, RELATIONS)
    assert {d.how for d in done} == {"incremental"}
    journey = store.con.execute(f"SELECT anonymous_id, customer_id FROM {JOURNEY.table} ORDER BY ALL").fetchall()
    assert journey == [("a1", "u1"), ("a1", "u1"), ("a9", "a9"), ("new", "u2")]
    caught_up = {r.name: rows(store, r) for r in RELATIONS}
    for relation in RELATIONS:
        materialize(store, relation)
        assert rows(store, relation) == caught_up[relation.name], relation.name


def test_a_caught_up_journey_is_read_sorted_until_a_refresh_sorts_it_again(store, tmp_path):
    """Catch-ups append rows out of stored order: funnels then sort what they read (same answer),
    and once the appended rows pass ``COMPACT_SHARE`` of the table ``journey refresh`` puts it back in order."""
    from parcours.journey.materialized import COMPACT_SHARE, in_stored_order
    from parcours.query.journey import EVENT_ORDER_COLUMNS

    steps = ["site_visit", "add_to_cart", "purchase"]
    base = [{"event": steps[i % 3], "timestamp": f"2024-03-0{1 + i % 5}T10:00:00Z", "user_id": f"u{i % 7}"}
            for i in range(30)]
    load_events(store, base, tmp_path)
    refresh(store)
    assert in_stored_order(store)
    late = {"event": "purchase", "timestamp": "2024-03-01T09:00:00Z", "user_id": "u1"}  # before u1's others
    load_events(store, [late], tmp_path, name="late.jsonl")
    assert refresh(store).how == "incremental" and not in_stored_order(store)
    caught_up = parcours.funnel(store, steps)
    materialize(store, JOURNEY)
    assert in_stored_order(store)
    assert caught_up.equals(parcours.funnel(store, steps))
    for i in range(int(COMPACT_SHARE * 31) + 1):  # one row each: the last one passes the share
        load_events(store, [{**late, "user_id": f"u{i}", "event": "site_visit"}], tmp_path, name=f"late{i}.jsonl")
        assert refresh(store).how == "incremental"
    assert not in_stored_order(store)  # a query's or a live cycle's refresh never sorts (it costs a build)
    assert refresh_all(store, [JOURNEY], sort=True)[0].how == "fresh"  # as `journey refresh` does
    assert in_stored_order(store)
    stored = store.con.execute(f"SELECT customer_id, {', '.join(EVENT_ORDER_COLUMNS)} FROM {JOURNEY.table}").fetchall()
    assert stored == sorted(stored) and len(stored) == 31 + int(COMPACT_SHARE * 31) + 1


def test_a_new_webhook_alone_keeps_the_derived_tables(store, tmp_path):
    from parcours.config import template_text

    store.set_journey(template_text("ecommerce"), "ecommerce")
    load_events(store, [_event({"event": "site_visit", "timestamp": "2024-03-01T10:00:00Z", "who": "user",
                                "user_id": "u1", "anonymous_id": "a1", "email": None})], tmp_path)
    refresh(store)
    version = store.data_version()
    hook = '\n[[webhooks]]\nname = "crm"\nurl = "http://127.0.0.1:9/hook"\ntrigger = "stage_entered"\nstage = "decision"\nsecret = "s3cret"\n'
    store.set_journey(template_text("ecommerce") + hook, "ecommerce + webhook")
    assert [h.name for h in store.config.webhooks] == ["crm"]
    assert store.data_version() == version and refresh(store).how == "fresh"
    store.set_journey(template_text("ecommerce").replace('purchase_event = "purchase"', 'purchase_event = "order"')
                      + hook, "ecommerce, other purchase event")
    assert store.data_version() == version + 1


@pytest.mark.parametrize("share", [0.0, 10.0], ids=["updated in place", "deleted and inserted again"])
def test_appended_events_recompute_a_customers_steps_from_the_first_changed_one(store, tmp_path, monkeypatch, share):
    """Rows before a customer's first new step keep all they hold (a step row looks back only): an
    event after the others recomputes itself alone; one in the middle, itself and the rows after
    it; a merge of earlier events, the customer whole. Each time the same as a rebuild."""
    monkeypatch.setattr(sequences, "REWRITE_SHARE", share)
    steps = STEPS["touchpoint"]

    def visit(day: int, hour: int = 10, user: str = "u1", event: str | None = None) -> dict:
        return {"event": event or ("site_visit", "product_view")[day % 2], "user_id": user,
                "timestamp": f"2024-03-{day:02d}T{hour}:00:00Z"}

    load_events(store, [visit(day) for day in range(1, 11)], tmp_path, name="ten.jsonl")
    refresh_all(store, RELATIONS)

    def catch_up(events: list[dict], name: str) -> int:
        load_events(store, events, tmp_path, name=name)
        done = refresh_all(store, (JOURNEY, steps))[1]
        assert done.how == "incremental"
        caught_up = rows(store, steps)
        materialize(store, steps)
        assert rows(store, steps) == caught_up
        return done.rows

    assert catch_up([visit(20)], "end.jsonl") == 1
    assert catch_up([visit(5, hour=12)], "middle.jsonl") == 7  # seq 6 of 12: itself and rows 6..11 moved on
    assert catch_up([{**visit(21, user="u1", event="identify"), "type": "identify"}], "no_step.jsonl") == 0
    # an anonymous visitor's earlier events joined to u1: both customers recomputed whole
    load_events(store, [{**visit(2, user="u9"), "user_id": None, "anonymous_id": "a9"}], tmp_path, name="anon.jsonl")
    refresh_all(store, (JOURNEY, steps))
    assert catch_up([{"event": "identify", "type": "identify", "user_id": "u1", "anonymous_id": "a9",
                      "timestamp": "2024-03-22T10:00:00Z"}], "merge.jsonl") == 13  # 12 of u1, 1 of a9


@pytest.mark.parametrize("share", [0.0, 10.0], ids=["updated in place", "deleted and inserted again"])
def test_a_catch_up_takes_the_trailing_partial_row_groups_along(store, tmp_path, monkeypatch, share):
    """Their rows are inserted again with the new ones and their old copies deleted: nothing is lost
    or doubled (the rows a step catch-up numbers again are taken once), and only the new rows count
    as recomputed or as appended out of order."""
    from parcours.journey.materialized import _appended_rows

    monkeypatch.setattr(sequences, "REWRITE_SHARE", share)
    steps = STEPS["touchpoint"]
    visits = [{"event": ("site_visit", "product_view")[i % 2], "user_id": f"u{i % 4}",
               "timestamp": f"2024-03-{1 + i:02d}T10:00:00Z"} for i in range(12)]
    load_events(store, visits, tmp_path)
    refresh_all(store, RELATIONS)
    take_every_tail(monkeypatch)
    for name, day in (("a", 6), ("b", 7)):  # u0's visits are on days 1, 5 and 9
        assert store.partial_tail(JOURNEY.table)  # one small group: not full
        load_events(store, [{**visits[0], "timestamp": f"2024-03-{day:02d}T12:00:00Z"}], tmp_path, name=f"{name}.jsonl")
        done = refresh_all(store, (JOURNEY, steps))
        assert [(d.how, d.rows) for d in done] == [("incremental", 1), ("incremental", 2)]  # itself, and day 9 moved on
    assert _appended_rows(store, JOURNEY) == 2
    # the old copies are gone: as many live rows as row ids the table holds at its end
    counted = store.con.execute(f"SELECT count(*), count(DISTINCT message_id) FROM {JOURNEY.table}").fetchone()
    assert counted == (14, 14)
    caught_up = {r.name: rows(store, r) for r in (JOURNEY, steps)}
    for relation in (JOURNEY, steps):
        materialize(store, relation)
        assert rows(store, relation) == caught_up[relation.name], relation.name


def test_the_trailing_partial_row_groups_are_found_from_the_storage(store):
    """The partial groups after the last full one, whatever their number, also after a checkpoint
    dropped an emptied group (its row ids stay unused)."""
    from parcours.store.store import ROW_GROUP_ROWS

    def tail_values(name: str = "t") -> list[int]:
        ids = store.partial_tail(name)
        return [v for (v,) in store.con.execute(
            f"SELECT i FROM {name} WHERE rowid BETWEEN {ids.start} AND {ids.stop - 1} ORDER BY i").fetchall()] if ids else []

    store.con.execute(f"CREATE TABLE t AS SELECT range AS i FROM range({2 * ROW_GROUP_ROWS + 100})")
    store.con.execute("CHECKPOINT")
    assert tail_values() == list(range(2 * ROW_GROUP_ROWS, 2 * ROW_GROUP_ROWS + 100))
    store.con.execute("INSERT INTO t SELECT -range FROM range(1, 51)")  # a group of its own, after the 100
    store.con.execute("CHECKPOINT")
    assert tail_values() == list(range(-50, 0)) + list(range(2 * ROW_GROUP_ROWS, 2 * ROW_GROUP_ROWS + 100))
    store.con.execute(f"INSERT INTO t SELECT range FROM range({ROW_GROUP_ROWS})")
    store.con.execute("CHECKPOINT")
    assert not tail_values()  # it ends in a full group
    # a full group emptied, and dropped by the checkpoint: its ids stay unused
    store.con.execute(f"CREATE TABLE u AS SELECT range AS i FROM range({3 * ROW_GROUP_ROWS})")
    store.con.execute(f"DELETE FROM u WHERE rowid BETWEEN 0 AND {ROW_GROUP_ROWS - 1}")
    store.con.execute("CHECKPOINT")
    store.con.execute(f"INSERT INTO u SELECT {10 * ROW_GROUP_ROWS} + range FROM range(70)")
    store.con.execute("CHECKPOINT")
    assert tail_values("u") == [10 * ROW_GROUP_ROWS + v for v in range(70)]


def test_a_new_step_at_the_time_and_arrival_of_a_stored_one_is_ordered_by_message_id(store, tmp_path):
    """The catch-up reads the stored rows' message ids only when a new step ties one of them on time
    and arrival sequence (the importer gives no two events the same; a store without it does)."""
    steps = STEPS["touchpoint"]
    at = "2024-03-01T10:00:00Z"
    load_events(store, [{"messageId": "m1", "event": "site_visit", "user_id": "u1", "timestamp": at},
                        {"messageId": "m7", "event": "product_view", "user_id": "u1", "timestamp": "2024-03-02T10:00:00Z"}],
                tmp_path)
    store.con.execute("UPDATE events SET arrival_seq = NULL")  # only the message ids order same-time events
    refresh_all(store, RELATIONS)
    load_events(store, [{"messageId": "m3", "event": "product_view", "user_id": "u1", "timestamp": at}],
                tmp_path, name="tie.jsonl")
    store.con.execute("UPDATE events SET arrival_seq = NULL")
    assert [d.how for d in refresh_all(store, (JOURNEY, steps))] == ["incremental", "incremental"]
    order = store.con.execute(f"SELECT message_id FROM {steps.table} ORDER BY seq").fetchall()
    assert order == [("m1",), ("m3",), ("m7",)]
    caught_up = rows(store, steps)
    materialize(store, steps)
    assert rows(store, steps) == caught_up
