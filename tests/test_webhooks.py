"""Webhooks against a real HTTP server on 127.0.0.1: triggers, signing, retries with backoff, the log."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import load_events

from parcours.analytics.voc.webhooks import (
    SIGNATURE_HEADER,
    deliver_webhooks,
    enqueue_webhooks,
    sign,
    verify_signature,
    webhook_log,
)
from parcours.config import template_text
from parcours.errors import ParcoursError

SECRET = "s3cret"


class Receiver:
    """A local HTTP server that answers 503 to the first ``fail_first`` requests, then 204."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def configure(store, **hooks):
    """Set the five-stage journey file with ``[[webhooks]]`` tables appended, as a user would."""
    text = template_text("five-stages")
    for name, spec in hooks.items():
        text += f'\n[[webhooks]]\nname = "{name}"\nsecret = "{SECRET}"\n'
        text += "".join(f"{k} = {json.dumps(v)}\n" for k, v in spec.items())
    store.set_journey(text, "journey.toml")


def nps(user, ts, score):
    return {"user_id": user, "event": "survey_response", "timestamp": ts,
            "properties": {"metric": "nps", "score": score, "touchpoint": "delivery", "comment": "late"}}


def test_signature_roundtrip():
    # RFC 4231, test case 2
    expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"what do ya want for nothing?", "Jefe") == expected
    body = b'{"a":1}'
    assert verify_signature(body, "k", sign(body, "k"))
    assert not verify_signature(body + b" ", "k", sign(body, "k"))
    assert not verify_signature(body, "other", sign(body, "k")) and not verify_signature(body, "k", None)


def test_detractor_delivered_signed_after_retries(store, tmp_path):
    with Receiver(fail_first=2) as receiver:
        configure(store, alerts={"url": receiver.url, "trigger": "detractor"})
        load_events(store, [nps("ann", "2024-01-01T10:00:00Z", 2), nps("bob", "2024-01-01T11:00:00Z", 9)], tmp_path)
        queued = enqueue_webhooks(store)
        assert queued.to_dict("records") == [{"webhook": "alerts", "trigger": "detractor", "queued": 1}]
        assert enqueue_webhooks(store)["queued"].tolist() == [0]   # idempotent
        waits: list[float] = []

        def sleep(seconds):
            waits.append(seconds)
            import time
            time.sleep(seconds)

        result = deliver_webhooks(store, backoff=0.05, max_attempts=5, wait=True, sleep=sleep)
    assert result.to_dict("records")[0] | {"error": None} == {
        "delivery_id": 1, "webhook": "alerts", "status": "delivered", "attempts": 3, "http_status": 204, "error": None}
    assert len(receiver.requests) == 3
    # exponential backoff: about 0.05 s then 0.1 s between attempts
    assert len(waits) == 2 and waits[0] <= 0.05 + 1e-6 and 0.05 < waits[1] <= 0.1 + 1e-6
    for request in receiver.requests:
        assert verify_signature(request["body"], SECRET, request["headers"][SIGNATURE_HEADER])
        assert request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload == {"webhook": "alerts", "trigger": "detractor", "customer_id": "ann", "score": 2.0,
                       "touchpoint": "delivery", "stage": "retention", "comment": "late", "occurred_at": "2024-01-01T10:00:00Z"}
    log = webhook_log(store)
    assert log["attempt"].tolist() == [3, 2, 1]
    assert log["http_status"].tolist() == [204, 503, 503]
    assert set(log["status"]) == {"delivered"}
    assert "503" in log["error"].iloc[-1]
    assert deliver_webhooks(store).empty   # nothing left to send


def test_gives_up_after_max_attempts_and_logs_refused_connections(store, tmp_path):
    with Receiver() as receiver:
        url = receiver.url
    # the server is closed: every attempt is refused
    configure(store, alerts={"url": url, "trigger": "detractor"})
    load_events(store, [nps("ann", "2024-01-01T10:00:00Z", 0)], tmp_path)
    enqueue_webhooks(store)
    first = deliver_webhooks(store, backoff=3600)
    assert first["status"].tolist() == ["pending"] and first["http_status"].isna().all()
    assert deliver_webhooks(store, backoff=3600).empty   # not due again for an hour
    # an hour later (a clock of our own), the remaining attempts run back to back
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=2)
    result = deliver_webhooks(store, backoff=0.0, max_attempts=3, wait=True, sleep=lambda s: None,
                              clock=lambda: later)
    assert result["status"].tolist() == ["failed"] and result["attempts"].tolist() == [3]
    log = webhook_log(store)
    assert len(log) == 3 and log["error"].notna().all() and log["http_status"].isna().all()
    # one delivery's log, and none for a delivery that does not exist
    assert webhook_log(store, 1)["delivery_id"].tolist() == [1, 1, 1]
    assert webhook_log(store, 2).empty


def test_cart_abandoned_and_stage_entered_triggers(store, tmp_path):
    configure(store, carts={"url": "http://127.0.0.1:9/x", "trigger": "cart_abandoned", "minutes": 30},
              entered={"url": "http://127.0.0.1:9/y", "trigger": "stage_entered", "stage": "decision"})
    ev = lambda u, e, ts, **p: {"user_id": u, "event": e, "timestamp": ts, "properties": p}  # noqa: E731
    load_events(store, [
        ev("ann", "add_to_cart", "2024-01-01T10:00:00Z", cart_value=40),
        ev("ann", "purchase", "2024-01-01T10:10:00Z", revenue=40),          # bought: not abandoned
        ev("bob", "add_to_cart", "2024-01-01T10:00:00Z", cart_value=25),
        ev("bob", "add_to_cart", "2024-01-01T10:20:00Z", cart_value=50),    # still shopping at 10:20
        ev("cat", "add_to_cart", "2024-01-01T11:50:00Z", cart_value=10),    # only 10 minutes ago at noon
        ev("dan", "site_visit", "2024-01-01T09:00:00Z"),
    ], tmp_path)
    queued = enqueue_webhooks(store, now=datetime(2024, 1, 1, 12, 0)).set_index("webhook")["queued"]
    assert queued.to_dict() == {"carts": 1, "entered": 3}
    bodies = {r["webhook"]: [] for r in store.con.execute("SELECT webhook FROM webhook_deliveries").df().to_dict("records")}
    for hook, body in store.con.execute("SELECT webhook, body FROM webhook_deliveries ORDER BY delivery_id").fetchall():
        bodies[hook].append(json.loads(body))
    assert [(b["customer_id"], b["cart_value"], b["occurred_at"]) for b in bodies["carts"]] == [("bob", 50.0, "2024-01-01T10:20:00Z")]
    assert sorted(b["customer_id"] for b in bodies["entered"]) == ["ann", "bob", "cat"]
    # later, cat's cart is old enough; nothing else is queued twice
    queued = enqueue_webhooks(store, now=datetime(2024, 1, 1, 13, 0)).set_index("webhook")["queued"]
    assert queued.to_dict() == {"carts": 1, "entered": 0}
    # --since skips older occurrences
    load_events(store, [ev("eve", "add_to_cart", "2024-01-02T10:00:00Z")], tmp_path, name="more.jsonl")
    queued = enqueue_webhooks(store, since=datetime(2024, 1, 3), now=datetime(2024, 1, 4)).set_index("webhook")
    assert queued["queued"].to_dict() == {"carts": 0, "entered": 0}


def test_carts_since_a_time_read_only_the_events_since_then_with_the_same_answer(store, tmp_path):
    """The live triggers pass ``since``: the cart trigger then leaves the older events out of its
    window, which must not change which carts at or after ``since`` were abandoned."""
    configure(store, carts={"url": "http://127.0.0.1:9/x", "trigger": "cart_abandoned", "minutes": 30})
    ev = lambda u, e, ts: {"user_id": u, "event": e, "timestamp": ts}  # noqa: E731
    load_events(store, [
        ev("ann", "add_to_cart", "2024-01-01T09:50:00Z"),   # before since; ann's next cart is after it
        ev("ann", "add_to_cart", "2024-01-01T10:05:00Z"),   # abandoned
        ev("bob", "add_to_cart", "2024-01-01T10:00:00Z"),   # at since, bought 10 minutes later
        ev("bob", "purchase", "2024-01-01T10:10:00Z"),
        ev("cat", "add_to_cart", "2024-01-01T09:00:00Z"),   # abandoned, but before since
        ev("dan", "add_to_cart", "2024-01-01T10:00:00Z"),   # at since, still shopping at 10:20
        ev("dan", "add_to_cart", "2024-01-01T10:20:00Z"),   # abandoned
    ], tmp_path)
    since, now = datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 12, 0)
    enqueue_webhooks(store, since=since, now=now)
    queued = store.con.execute("SELECT body FROM webhook_deliveries").fetchall()
    assert sorted((json.loads(b)["customer_id"], json.loads(b)["occurred_at"]) for (b,) in queued) == [
        ("ann", "2024-01-01T10:05:00Z"), ("dan", "2024-01-01T10:20:00Z")]
    # the same carts as all of them (no since) at or after since
    everyone = store.con.execute("SELECT body FROM webhook_deliveries").fetchall()
    store.con.execute("DELETE FROM webhook_deliveries")
    enqueue_webhooks(store, now=now)
    every = [json.loads(b) for (b,) in store.con.execute("SELECT body FROM webhook_deliveries").fetchall()]
    assert sorted(json.loads(b)["occurred_at"] for (b,) in everyone) == sorted(
        b["occurred_at"] for b in every if b["occurred_at"] >= "2024-01-01T10:00:00Z")
    assert len(every) == 3  # cat's too


def test_misconfigured_webhooks_are_clear_errors(store):
    configure(store, bad={"url": "ftp://example.org", "trigger": "detractor"})
    with pytest.raises(ParcoursError, match="webhook 'bad': url 'ftp://example.org' is not an http"):
        enqueue_webhooks(store)
    configure(store, bad={"url": "http://127.0.0.1:9/", "trigger": "stage_entered", "stage": "nirvana"})
    with pytest.raises(ParcoursError, match="webhook 'bad': trigger stage_entered needs stage"):
        enqueue_webhooks(store)
