"""Live webhook cycles narrowed to the changed customers: the detractor trigger's answers and the
segment triggers' membership give what an evaluation over the whole store gives."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
from conftest import load_events
from test_webhooks import configure

from parcours.analytics.segments.segments import create_segment, edit_segment, save_list_segment
from parcours.analytics.voc.answers import answers_query
from parcours.analytics.voc.webhooks import SEGMENT_RECHECK_SECONDS, enqueue_webhooks
from parcours.journey.live_state import STATE, changed_since
from parcours.journey.materialized import refresh
from parcours.query import sql

URL = "http://127.0.0.1:9/hook"
NOW = datetime(2024, 3, 1, 12, 0)


def ev(user: str, event: str, ts: str, **props) -> dict:
    return {"user_id": user, "event": event, "timestamp": ts, "properties": props}


def ids(*customers: str):
    """A customers query of these ids (what the live triggers pass)."""
    return sql("SELECT unnest([{ids}]) AS customer_id", ids=list(customers))


def queued(store) -> list[tuple[str, str]]:
    rows = store.con.execute("SELECT webhook, body FROM webhook_deliveries ORDER BY delivery_id").fetchall()
    return sorted((hook, json.loads(body)["customer_id"]) for hook, body in rows)


def watched(store) -> list[tuple[str, str]]:
    return sorted(store.con.execute("SELECT webhook, customer_id FROM segment_watch").fetchall())


class Live:
    """The live triggers' cycle: the customers whose state changed since the last cycle."""

    def __init__(self, store):
        self.store = store
        self.looked = None

    def cycle(self, now: datetime):
        if self.looked is None:
            refresh(self.store, STATE)  # the server builds the state with its first look
        customers = changed_since(self.store, self.looked)
        self.looked = self.store.data_version()
        return enqueue_webhooks(self.store, now=now, customers=customers).set_index("webhook")["queued"].to_dict()


# -- detractor -----------------------------------------------------------------------------------

ANSWERS = [
    ev("ann", "product_view", "2024-03-01T10:00:00Z"),
    ev("ann", "survey_response", "2024-03-01T10:05:00Z", metric="nps", score=2),   # inferred: product page
    ev("ann", "purchase", "2024-03-01T10:30:00Z"),
    ev("ann", "survey_response", "2024-03-01T10:30:00Z", metric="nps", score=5),   # at the purchase's instant
    ev("bob", "site_visit", "2024-03-01T09:00:00Z"),
    ev("bob", "survey_response", "2024-03-01T09:10:00Z", metric="nps", score=1, touchpoint="delivery"),
    ev("cat", "survey_response", "2024-03-01T08:00:00Z", metric="csat", score=2),  # no touchpoint before
    ev("dan", "product_view", "2024-03-01T07:00:00Z"),
]


def test_narrowed_answers_are_the_whole_stores_answers_of_those_customers(store, tmp_path):
    load_events(store, ANSWERS, tmp_path)
    every = store.engine.df(sql("SELECT * FROM {a} a ORDER BY message_id", a=answers_query(store)))
    assert set(every["customer_id"]) == {"ann", "bob", "cat"}
    for some in [("ann",), ("bob", "cat"), ("ann", "dan"), ("nobody",)]:
        narrowed = store.engine.df(sql("SELECT * FROM {a} a ORDER BY message_id",
                                       a=answers_query(store, customers=ids(*some))))
        expected = every[every["customer_id"].isin(some)].reset_index(drop=True)
        pd.testing.assert_frame_equal(narrowed, expected, obj=str(some), check_dtype=False)  # NULLs: Int32
    ann = store.engine.df(sql("SELECT * FROM {a} a ORDER BY timestamp", a=answers_query(store, customers=ids("ann"))))
    assert ann[["touchpoint", "touchpoint_source"]].values.tolist() == [
        ["product_page", "inferred"], ["purchase", "inferred"]]


def test_a_live_detractor_cycle_reads_the_changed_customers_answers(store, tmp_path):
    configure(store, alerts={"url": URL, "trigger": "detractor"})
    load_events(store, ANSWERS[:4], tmp_path)
    live = Live(store)
    assert live.cycle(NOW) == {"alerts": 2}  # the first cycle looks at everyone
    load_events(store, ANSWERS[4:], tmp_path, name="more.jsonl")
    # a detractor answer of ann's the narrowed cycle must not see (deleted from the queue: it would be queued again)
    store.con.execute("DELETE FROM webhook_deliveries WHERE dedupe_key = (SELECT min(dedupe_key) FROM webhook_deliveries)")
    assert live.cycle(NOW) == {"alerts": 1}
    bodies = [json.loads(b) for (b,) in store.con.execute("SELECT body FROM webhook_deliveries ORDER BY delivery_id").fetchall()]
    assert [(b["customer_id"], b["touchpoint"]) for b in bodies][-1] == ("bob", "delivery")
    assert enqueue_webhooks(store, now=NOW)["queued"].tolist() == [1]  # the manual run: everyone, as before


# -- segments ------------------------------------------------------------------------------------

SEGMENT_HOOKS = {
    "joined": {"url": URL, "trigger": "segment_entered", "segment": "buyers"},
    "left": {"url": URL, "trigger": "segment_left", "segment": "browsers"},
}


def _segment_story(store, tmp_path, narrowed: bool) -> list:
    """Events arrive in three steps (one merges an anonymous visitor into a customer); the queue after each."""
    configure(store, **SEGMENT_HOOKS)
    create_segment(store, "buyers", "purchases >= 1")
    create_segment(store, "browsers", "purchases = 0")
    load_events(store, [ev("ann", "product_view", "2024-03-01T10:00:00Z"),
                        ev("bob", "purchase", "2024-03-01T10:00:00Z"),
                        {"anonymous_id": "a1", "event": "site_visit", "timestamp": "2024-03-01T10:00:00Z"},
                        ev("cat", "site_visit", "2024-03-01T10:00:00Z")], tmp_path)
    live = Live(store)

    def cycle(now):
        if narrowed:
            return live.cycle(now)
        return enqueue_webhooks(store, now=now).set_index("webhook")["queued"].to_dict()

    steps = [cycle(NOW)]  # the first look: nothing sent
    load_events(store, [ev("ann", "purchase", "2024-03-01T11:00:00Z"),       # ann buys: joins, leaves browsers
                        ev("dan", "purchase", "2024-03-01T11:00:00Z")],      # a new buyer: joins
                tmp_path, name="two.jsonl")
    steps.append(cycle(NOW + timedelta(seconds=1)))
    load_events(store, [{"type": "identify", "event": "identify", "user_id": "eve", "anonymous_id": "a1",
                         "timestamp": "2024-03-01T11:30:00Z"}], tmp_path, name="three.jsonl")  # a1 is eve now
    steps.append(cycle(NOW + timedelta(seconds=2)))
    return [steps, queued(store), watched(store)]


def test_segment_cycles_narrowed_to_the_changed_customers_send_what_the_whole_store_sends(store, tmp_path):
    import parcours

    narrowed = _segment_story(store, tmp_path / "", narrowed=True)
    with parcours.open(tmp_path / "whole.duckdb") as whole_store:
        (tmp_path / "whole").mkdir()
        whole = _segment_story(whole_store, tmp_path / "whole", narrowed=False)
    assert narrowed == whole
    steps, deliveries, _ = narrowed
    assert steps == [{"joined": 0, "left": 0}, {"joined": 2, "left": 1}, {"joined": 0, "left": 1}]
    assert deliveries == [("joined", "ann"), ("joined", "dan"), ("left", "a1"), ("left", "ann")]


def test_a_list_segment_change_is_announced_without_any_event(store, tmp_path):
    configure(store, joined={"url": URL, "trigger": "segment_entered", "segment": "vip"},
              left={"url": URL, "trigger": "segment_left", "segment": "vip"})
    load_events(store, [ev(u, "site_visit", "2024-03-01T10:00:00Z") for u in ("ann", "bob")], tmp_path)
    save_list_segment(store, "vip", ids("ann"))
    live = Live(store)
    live.cycle(NOW)
    assert live.cycle(NOW) == {"joined": 0, "left": 0}  # nothing changed
    save_list_segment(store, "vip", ids("bob", "zed"), replace=True)  # zed has no event: a list may name anyone
    assert live.cycle(NOW + timedelta(seconds=1)) == {"joined": 2, "left": 1}
    assert queued(store) == [("joined", "bob"), ("joined", "zed"), ("left", "ann")]
    # an edited rule is announced the same way
    create_segment(store, "active", "events >= 2")
    configure(store, joined={"url": URL, "trigger": "segment_entered", "segment": "active"})
    live.cycle(NOW + timedelta(seconds=2))
    edit_segment(store, "active", where="events >= 1")
    assert live.cycle(NOW + timedelta(seconds=3)) == {"joined": 2}


def test_a_time_dependent_rule_is_evaluated_whole_every_recheck_period(store, tmp_path):
    """``recency_days`` counts back from the store's latest event: bob's events move it on, and ann,
    whose events did not change, leaves ``recent`` by time passing: announced at the next whole look."""
    configure(store, left={"url": URL, "trigger": "segment_left", "segment": "recent"})
    create_segment(store, "recent", "recency_days <= 1")
    load_events(store, [ev(u, "site_visit", "2024-03-01T10:00:00Z") for u in ("ann", "bob")], tmp_path)
    live = Live(store)
    live.cycle(NOW)
    load_events(store, [ev("bob", "site_visit", "2024-03-05T10:00:00Z")], tmp_path, name="more.jsonl")
    assert live.cycle(NOW + timedelta(seconds=1)) == {"left": 0}  # bob is still recent; ann is not looked at
    assert live.cycle(NOW + timedelta(seconds=SEGMENT_RECHECK_SECONDS - 1)) == {"left": 0}
    assert live.cycle(NOW + timedelta(seconds=SEGMENT_RECHECK_SECONDS)) == {"left": 1}  # the whole store
    assert queued(store) == [("left", "ann")]
    assert watched(store) == [("left", "bob")]


def test_the_manual_run_evaluates_the_whole_store_at_once(store, tmp_path):
    configure(store, left={"url": URL, "trigger": "segment_left", "segment": "recent"})
    create_segment(store, "recent", "recency_days <= 1")
    load_events(store, [ev(u, "site_visit", "2024-03-01T10:00:00Z") for u in ("ann", "bob")], tmp_path)
    assert enqueue_webhooks(store, now=NOW)["queued"].tolist() == [0]  # the first look
    load_events(store, [ev("bob", "site_visit", "2024-03-05T10:00:00Z")], tmp_path, name="more.jsonl")
    assert enqueue_webhooks(store, now=NOW + timedelta(seconds=1))["queued"].tolist() == [1]
    assert queued(store) == [("left", "ann")]


def test_new_lead_scores_are_announced_without_any_event(store, tmp_path):
    configure(store, joined={"url": URL, "trigger": "segment_entered", "segment": "hot"})
    create_segment(store, "hot", "lead_score >= 70")
    load_events(store, [ev(u, "site_visit", "2024-03-01T10:00:00Z") for u in ("ann", "bob")], tmp_path)
    live = Live(store)
    live.cycle(NOW)
    # as save_lead_scores writes them (no journey data changes)
    store.con.execute("INSERT INTO lead_scores VALUES ('ann', 80, [], ?), ('bob', 20, [], ?)", [NOW, NOW])
    assert live.cycle(NOW + timedelta(seconds=1)) == {"joined": 1}
    assert queued(store) == [("joined", "ann")]
