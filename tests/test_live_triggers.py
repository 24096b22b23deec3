"""Webhook triggers fire while ``parcours serve`` runs, with no manual step, to a real local receiver."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import httpx
from server_process import Server, cli, create_key
from test_webhooks import SECRET, Receiver

from parcours.analytics.voc.webhooks import SIGNATURE_HEADER, verify_signature
from parcours.config import template_text

HOOKS = (
    ("entered", 'trigger = "stage_entered"\nstage = "decision"'),
    ("detractors", 'trigger = "detractor"'),
    ("carts", 'trigger = "cart_abandoned"\nminutes = 0.05'),
    ("moments", 'trigger = "moment_of_truth"'),
    ("joined", 'trigger = "segment_entered"\nsegment = "carters"'),
    ("left", 'trigger = "segment_left"\nsegment = "nocart"'),
)


def by_webhook(receiver: Receiver) -> dict[str, list[dict]]:
    bodies = defaultdict(list)
    for r in list(receiver.requests):
        body = json.loads(r["body"])
        bodies[body["webhook"]].append(body)
    return bodies


def wait_for(receiver: Receiver, want: dict[str, int], timeout: float = 30) -> dict[str, list[dict]]:
    """The bodies by webhook once each webhook in ``want`` has sent that many (the server sends on its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = by_webhook(receiver)
        if all(len(bodies[name]) >= n for name, n in want.items()):
            return bodies
        time.sleep(0.05)
    raise AssertionError(f"received {({k: len(v) for k, v in bodies.items()})}; expected {want}")


def test_every_trigger_fires_live(tmp_path):
    db = tmp_path / "live.duckdb"
    key = create_key(db, "write", "web")
    with Receiver() as receiver:
        journey = tmp_path / "journey.toml"
        journey.write_text(template_text("five-stages") + "".join(
            f'\n[[webhooks]]\nname = "{name}"\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n{extra}\n'
            for name, extra in HOOKS))
        assert cli(db, "journey", "set", str(journey)).returncode == 0
        assert cli(db, "segment", "create", "carters", "--where", "events('add_to_cart', 30) >= 1").returncode == 0
        assert cli(db, "segment", "create", "nocart", "--where", "events('add_to_cart', 30) = 0").returncode == 0
        with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
            sent = time.monotonic()
            batch = [
                {"type": "track", "userId": "ann", "event": "add_to_cart", "messageId": "c1",
                 "properties": {"cart_value": 42}},
                {"type": "track", "userId": "bob", "event": "survey_response", "messageId": "s1",
                 "properties": {"metric": "nps", "score": 3, "comment": "slow"}},
                {"type": "track", "userId": "bob", "event": "product_view", "messageId": "p1"},
            ]
            assert http.post("/v1/batch", json={"batch": batch}).status_code == 200
            wait_for(receiver, {"entered": 1, "detractors": 1})
            first = time.monotonic() - sent
            wait_for(receiver, {"moments": 1, "joined": 1, "carts": 1})
            # bob, in "nocart" since his first events, puts something in his cart: he leaves it
            assert http.post("/v1/track", json={"userId": "bob", "event": "add_to_cart",
                                                "messageId": "c2"}).status_code == 200
            bodies = wait_for(receiver, {"left": 1, "joined": 2, "entered": 2, "carts": 2})
            metrics = http.get("/metrics").json()
        r = cli(db, "voc", "webhooks", "log", "--format", "json")
    assert first < 10  # a few seconds on a loaded 2-core machine; bench/live_trigger_bench.py measures it
    for request in receiver.requests:
        assert verify_signature(request["body"], SECRET, request["headers"][SIGNATURE_HEADER])
    customers = {name: sorted(b["customer_id"] for b in bodies[name]) for name in bodies}
    assert customers == {"entered": ["ann", "bob"], "detractors": ["bob"], "carts": ["ann", "bob"],
                         "moments": ["bob"], "joined": ["ann", "bob"], "left": ["bob"]}
    assert bodies["detractors"][0]["score"] == 3
    assert [b["cart_value"] for b in bodies["carts"] if b["customer_id"] == "ann"] == [42]
    assert bodies["moments"][0]["touchpoint"] == "product_page"
    assert bodies["left"][0]["segment"] == "nocart"
    assert metrics["webhook_error"] is None
    assert r.returncode == 0, r.stderr
    log = json.loads(r.stdout)
    assert (len(log), len(receiver.requests)) == (9, 9), log  # each occurrence once, each logged
    assert {row["status"] for row in log} == {"delivered"}
