"""Each customer's live journey state: its values, its catching up on the customers whose events
arrived, and the live triggers and the live view that read it."""

from __future__ import annotations

from datetime import datetime

from conftest import load_events

from parcours.analytics.voc.webhooks import enqueue_webhooks
from parcours.journey.live_state import STATE, changed_since, state_source
from parcours.journey.materialized import refresh
from parcours.query import sql
from parcours.web.live import live_state

NOW = datetime(2024, 3, 1, 12, 0)


def ev(user: str, event: str, minute: int, **kw) -> dict:
    return {"user_id": user, "event": event, "timestamp": f"2024-03-01T11:{minute:02d}:00Z", **kw}


EVENTS = [
    ev("ann", "ad_click", 0), ev("ann", "product_view", 5), ev("ann", "purchase", 10), ev("ann", "site_visit", 20),
    ev("bob", "site_visit", 1), ev("bob", "add_to_cart", 2),
    ev("cat", "unmapped_thing", 3),
]


def state(store) -> dict[str, dict]:
    df = store.engine.df(sql("SELECT * FROM {state} s", state=state_source(store)))
    return {r["customer_id"]: r for r in df.to_dict("records")}


def test_the_state_of_each_customer(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    s = state(store)
    ann, bob, cat = s["ann"], s["bob"], s["cat"]
    assert ann["current_stage"] == "consideration"  # the site visit after the purchase
    assert ann["furthest_stage"] == "decision" and ann["events"] == 4  # five-stages: purchase is in decision
    assert [e["stage"] for e in ann["entries"]] == ["awareness", "consideration", "decision"]
    assert (bob["current_stage"], bob["furthest_stage"]) == ("decision", "decision")
    assert cat["current_stage"] is None and list(cat["entries"]) == []  # seen, never staged
    assert ann["moments_of_truth"] == 2 and ann["last_moment"] == "purchase"  # product page, then purchase


def test_catching_up_recomputes_only_the_customers_whose_events_arrived(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    refresh(store, STATE)
    looked = store.data_version()
    assert store.engine.scalar(sql("SELECT count(*) FROM {changed}", changed=changed_since(store, looked))) == 0
    load_events(store, [ev("bob", "purchase", 30)], tmp_path, name="more.jsonl")
    assert refresh(store, STATE).how == "incremental"
    changed = store.engine.df(changed_since(store, looked))["customer_id"].tolist()
    assert changed == ["bob"] and state(store)["bob"]["current_stage"] == "decision"
    assert state(store)["bob"]["events"] == 3
    assert changed_since(store, None) is None  # never looked: everyone


def test_live_triggers_narrowed_to_the_changed_customers(store, tmp_path):
    from parcours.config import template_text

    store.set_journey(template_text("five-stages") + '\n[[webhooks]]\nname = "buy"\nurl = "http://127.0.0.1:9/h"\n'
                      'secret = "s"\ntrigger = "stage_entered"\nstage = "decision"\n', "journey")
    load_events(store, EVENTS + [ev("bob", "purchase", 30)], tmp_path)
    refresh(store, STATE)
    looked = store.data_version()
    load_events(store, [ev("cat", "purchase", 40)], tmp_path, name="more.jsonl")
    queued = enqueue_webhooks(store, customers=changed_since(store, looked))
    assert queued["queued"].tolist() == [1]  # cat only: ann and bob entered before the last look
    keys = store.con.execute("SELECT dedupe_key FROM webhook_deliveries").fetchall()
    assert keys == [("cat",)]
    assert enqueue_webhooks(store)["queued"].tolist() == [2]  # the whole store: ann and bob too


def test_the_live_view_counts_from_the_state(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    stages = {s["stage"]: s for s in live_state(store, NOW)["stages"]}
    assert stages["consideration"]["customers_now"] == 1 and stages["decision"]["customers_now"] == 1
    assert stages["awareness"]["customers_now"] == 0 and stages["awareness"]["entries_last_hour"] == 1
    assert stages["decision"]["entries_last_hour"] == 2 and stages["retention"]["entries_last_hour"] == 0
    later = {s["stage"]: s for s in live_state(store, datetime(2024, 3, 1, 13, 30))["stages"]}
    assert sum(s["entries_last_hour"] for s in later.values()) == 0  # the entries are older than an hour
