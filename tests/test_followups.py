"""Follow-up items: which answers open one, what they record, idempotence, the lifecycle, the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import load_events
from typer.testing import CliRunner

from parcours.analytics.voc.followups import create_followups, followup, list_followups, update_followup
from parcours.cli.main import app
from parcours.errors import ParcoursError


def ev(user, event, ts, **props):
    return {"user_id": user, "event": event, "timestamp": ts, "properties": props}


def answer(user, ts, metric, score, **extra):
    return ev(user, "survey_response", ts, metric=metric, score=score, **extra)


EVENTS = [
    ev("ann", "site_visit", "2024-01-01T10:00:00Z"),
    ev("ann", "checkout_start", "2024-01-01T10:10:00Z"),
    ev("ann", "payment_error", "2024-01-01T10:11:00Z"),
    answer("ann", "2024-01-01T10:20:00Z", "nps", 3, comment="Payment failed twice", language="en"),
    answer("bob", "2024-01-02T10:00:00Z", "nps", 7, touchpoint="delivery"),        # passive: no item
    answer("bob", "2024-01-02T10:01:00Z", "csat", 2, touchpoint="delivery"),       # very low CSAT
    answer("cat", "2024-01-03T10:00:00Z", "ces", 3, touchpoint="checkout"),        # CES 3: no item
    answer("cat", "2024-01-03T10:01:00Z", "ces", 1, touchpoint="nowhere"),         # unknown touchpoint
    answer("dan", "2024-01-04T10:00:00Z", "nps", 6),                               # detractor, no journey
    answer("eve", "2024-01-04T10:00:00Z", "nps", 9),
]


@pytest.fixture
def loaded(store, tmp_path):
    load_events(store, EVENTS, tmp_path)
    return store


def test_low_answers_open_items_with_context(loaded):
    assert create_followups(loaded) == 4
    items = list_followups(loaded).set_index("customer_id")
    assert sorted(items.index) == ["ann", "bob", "cat", "dan"]
    assert set(items["status"]) == {"open"}
    ann = items.loc["ann"]
    assert (ann["metric"], ann["score"], ann["touchpoint"], ann["stage"]) == ("nps", 3.0, "checkout", "decision")
    assert ann["owner"] == "payments" and ann["comment"] == "Payment failed twice"
    assert list(ann["identities"]) == ["ann"]
    assert items.loc["bob", "owner"] == "logistics" and items.loc["bob", "metric"] == "csat"
    assert items.loc["cat", "owner"] == "unassigned" and items.loc["dan", "touchpoint"] is None
    detail = followup(loaded, int(ann["followup_id"]))
    assert [(s["touchpoint"], s["event"]) for s in detail["recent_journey"]] == [
        ("web_page", "site_visit"), ("checkout", "checkout_start"), ("checkout", "payment_error")]
    assert detail["recent_journey"][0]["at"] == "2024-01-01T10:00:00Z"
    assert [h["action"] for h in detail["history"]] == ["created"]
    assert followup(loaded, int(items.loc["dan", "followup_id"]))["recent_journey"] == []


def test_creation_is_idempotent_and_picks_up_new_answers(loaded, tmp_path):
    assert create_followups(loaded) == 4
    assert create_followups(loaded) == 0
    load_events(loaded, [answer("fay", "2024-01-05T00:00:00Z", "nps", 0)], tmp_path, name="more.jsonl")
    assert create_followups(loaded) == 1
    assert len(list_followups(loaded)) == 5


def test_identities_are_every_stitched_identifier(store, tmp_path):
    load_events(store, [
        {"anonymous_id": "web-1", "event": "site_visit", "timestamp": "2024-01-01T09:00:00Z"},
        {"anonymous_id": "web-1", "user_id": "ann", "event": "identify", "type": "identify",
         "timestamp": "2024-01-01T09:30:00Z"},
        answer("ann", "2024-01-01T10:00:00Z", "nps", 2),
    ], tmp_path)
    from parcours import stitch

    stitch(store)
    create_followups(store)
    item = list_followups(store).iloc[0]
    assert {"ann", "web-1"} <= set(item["identities"])
    assert item["touchpoint"] == "web_page"  # the anonymous visit counts once stitched


def test_lifecycle_with_owner_and_notes(loaded):
    create_followups(loaded)
    item_id = int(list_followups(loaded, owner="payments").iloc[0]["followup_id"])
    update_followup(loaded, item_id, status="contacted", note="Called, will refund", author="zoe")
    item = update_followup(loaded, item_id, owner="finance")
    item = update_followup(loaded, item_id, status="resolved", note="Refunded")
    assert (item["status"], item["owner"]) == ("resolved", "finance")
    assert [(h["action"], h["detail"]) for h in item["history"]] == [
        ("created", "nps 3 at checkout, owner payments"),
        ("status", "open -> contacted"), ("note", "Called, will refund"),
        ("owner", "payments -> finance"),
        ("status", "contacted -> resolved"), ("note", "Refunded"),
    ]
    assert item["history"][1]["author"] == "zoe"
    assert list(list_followups(loaded, status="resolved")["followup_id"]) == [item_id]
    assert len(list_followups(loaded, status="open")) == 3


def test_bad_updates_are_clear_errors(loaded):
    create_followups(loaded)
    with pytest.raises(ParcoursError, match="follow-up 999 does not exist"):
        update_followup(loaded, 999, status="contacted")
    with pytest.raises(ParcoursError, match="'closed' is not one of open, contacted, resolved"):
        update_followup(loaded, 1, status="closed")
    with pytest.raises(ParcoursError, match="nothing to update"):
        update_followup(loaded, 1, note="  ")
    with pytest.raises(ParcoursError, match="not one of"):
        list_followups(loaded, status="done")
    assert [h["action"] for h in followup(loaded, 1)["history"]] == ["created"]


def test_cli_lists_and_updates(loaded):
    db = loaded.path
    loaded.close()
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db, "followups", "create"])
    assert result.exit_code == 0, result.output
    assert "4" in result.output
    result = runner.invoke(app, ["--db", db, "followups", "list", "--format", "json"])
    rows = json.loads(result.output)
    assert len(rows) == 4 and {"followup_id", "status", "owner", "comment"} <= set(rows[0])
    item_id = str(rows[0]["followup_id"])
    result = runner.invoke(app, ["--db", db, "followups", "update", item_id, "--status", "contacted",
                                 "--owner", "crm", "--note", "left a message", "--format", "json"])
    assert result.exit_code == 0, result.output
    item = json.loads(result.output)
    assert (item["status"], item["owner"]) == ("contacted", "crm")
    result = runner.invoke(app, ["--db", db, "followups", "list", "--status", "contacted", "--format", "json"])
    assert [r["followup_id"] for r in json.loads(result.output)] == [int(item_id)]
    result = runner.invoke(app, ["--db", db, "followups", "show", item_id, "--format", "json"])
    assert [h["action"] for h in json.loads(result.output)["history"]] == ["created", "status", "owner", "note"]
