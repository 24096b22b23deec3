"""Webhook triggers fire while ``parcours serve`` runs, with no manual step, to a real local receiver."""

from __future__ import annotations

import json
import time

import httpx
from server_process import Server, cli, create_key
from test_webhooks import SECRET, Receiver

from parcours.config import template_text
from parcours.voc.webhooks import SIGNATURE_HEADER, verify_signature


def journey_with_hooks(path, url: str) -> None:
    text = template_text("five-stages")
    for name, extra in (("entered", 'trigger = "stage_entered"\nstage = "decision"'),
                        ("detractors", 'trigger = "detractor"'),
                        ("carts", 'trigger = "cart_abandoned"\nminutes = 0.05')):
        text += f'\n[[webhooks]]\nname = "{name}"\nurl = "{url}"\nsecret = "{SECRET}"\n{extra}\n'
    path.write_text(text)


def received(receiver: Receiver, want: set[str], timeout: float = 30) -> dict[str, dict]:
    """The first body of each webhook in ``want``, waiting for them (the server sends on its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = {json.loads(r["body"])["webhook"]: r for r in receiver.requests}
        if want <= bodies.keys():
            return bodies
        time.sleep(0.05)
    raise AssertionError(f"webhooks received: {sorted(bodies)}; expected {sorted(want)}")


def test_stage_detractor_and_cart_triggers_fire_live(tmp_path):
    db = tmp_path / "live.duckdb"
    key = create_key(db, "write", "web")
    with Receiver() as receiver:
        journey = tmp_path / "journey.toml"
        journey_with_hooks(journey, receiver.url)
        assert cli(db, "journey", "set", str(journey)).returncode == 0
        with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
            sent = time.monotonic()
            batch = [
                {"type": "track", "userId": "ann", "event": "add_to_cart", "messageId": "c1",
                 "properties": {"cart_value": 42}},
                {"type": "track", "userId": "bob", "event": "survey_response", "messageId": "s1",
                 "properties": {"metric": "nps", "score": 3, "comment": "slow"}},
            ]
            assert http.post("/v1/batch", json={"batch": batch}).status_code == 200
            bodies = received(receiver, {"entered", "detractors"})
            first = time.monotonic() - sent
            bodies = received(receiver, {"entered", "detractors", "carts"})  # after the 3 s quiet period
            metrics = http.get("/metrics").json()
        r = cli(db, "voc", "webhooks", "log", "--format", "json")
    assert first < 10  # a few seconds on a loaded 2-core machine; bench/live_bench.py measures it
    for request in receiver.requests:
        assert verify_signature(request["body"], SECRET, request["headers"][SIGNATURE_HEADER])
    assert json.loads(bodies["entered"]["body"])["customer_id"] == "ann"
    assert json.loads(bodies["detractors"]["body"])["score"] == 3
    cart = json.loads(bodies["carts"]["body"])
    assert (cart["customer_id"], cart["cart_value"]) == ("ann", 42)
    assert len(receiver.requests) == 3  # each occurrence once
    assert metrics["webhook_attempts"] == 3 and metrics["webhook_error"] is None
    assert r.returncode == 0, r.stderr
    assert sorted(row["status"] for row in json.loads(r.stdout)) == ["delivered"] * 3  # logged in the store
