"""Faults with the real server and the real client libraries (segment-analytics-python,
rudder-sdk-python): a poison event in a batch, an X-Forwarded-For from an untrusted peer, and
``kill -9`` during apply and again during the replay at restart. The standard kept: no event a
client was told is stored is lost, none is stored twice. Bounded: three server starts.

tests/test_server_hardening.py runs the poison list, the gzip cases and the erase-to-the-byte
scan in process; tests/test_server_crash.py the torn log write; test_server_fuzz.py schemathesis.
"""

from __future__ import annotations

import threading
import time

import httpx
from server_process import Server, create_key, free_port, settled
from test_server_hardening import POISON

import parcours
from parcours.server.wal import wal_dir


def test_real_client_batch_with_a_poison_event_keeps_its_batch_mates(tmp_path):
    from segment.analytics import Client

    db = tmp_path / "poison.duckdb"
    key, admin = create_key(db, "write", "web"), create_key(db, "admin", "ops")
    errors: list = []
    with Server(db) as srv:
        client = Client(key, host=srv.url, upload_size=100, max_retries=1, on_error=lambda e, b: errors.append(e))
        for i in range(100):
            props = POISON["depth_300"]["properties"] if i == 40 else {"i": i}
            client.track(user_id=f"u{i % 9}", event="view", properties=props, message_id=f"seg-{i}")
        client.flush()
        client.shutdown()
        # a client sending from loopback with a forged X-Forwarded-For: the connection's address is kept
        r = httpx.post(srv.url + "/v1/track", auth=(key, ""), headers={"X-Forwarded-For": "203.0.113.9"},
                       json={"userId": "xff", "event": "spoof", "messageId": "xff-1"}, timeout=10)
        assert r.status_code == 200
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            settled(http)
            got = http.get("/v1/gdpr/export/xff", headers={"Authorization": f"Bearer {admin}"}).json()
        assert "Traceback" not in srv.logs()
    assert errors == []  # the client was told 200: nothing for it to drop or retry
    ip = got["tables"]["events"][0]["context"]["ip"]
    assert ip.startswith("127.0.0.") and "203.0.113" not in str(got)
    with parcours.open(db) as store:
        ids = {r[0] for r in store.con.execute("SELECT message_id FROM events WHERE message_id LIKE 'seg-%'").fetchall()}
    assert ids == {f"seg-{i}" for i in range(100) if i != 40}


def _kill_when_applying(srv: Server, timeout: float) -> bool:
    """kill -9 as soon as the applier stages a file (it is loading a batch into the store)."""
    staging = wal_dir(srv.db) / "apply"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if staging.exists() and any(staging.iterdir()):
            srv.kill9()
            return True
        time.sleep(0.001)
    srv.kill9()
    return False


def test_kill_9_during_apply_and_during_replay_with_real_clients(tmp_path):
    from rudderstack.analytics.client import Client as Rudder
    from segment.analytics import Client as Segment

    db = tmp_path / "faults.duckdb"
    key = create_key(db, "write", "web")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    errors: list = []
    n = 1500
    srv = Server(db, port=port)
    clients = [Segment(key, host=url, upload_size=50, upload_interval=0.05, max_retries=12,
                       on_error=lambda e, b: errors.append(e)),
               Rudder(key, host=url, upload_size=50, upload_interval=0.05, max_retries=12, gzip=True,
                      on_error=lambda e, b: errors.append(e))]

    def feed(client, prefix: str) -> None:
        for i in range(n):
            client.track(user_id=f"{prefix}-user-{i % 13}", event="view", properties={"i": i},
                         message_id=f"{prefix}-{i}")
            if i % 100 == 0:
                time.sleep(0.02)

    feeders = [threading.Thread(target=feed, args=(c, p)) for c, p in zip(clients, ("seg", "rud"), strict=True)]
    for t in feeders:
        t.start()
    caught_apply = _kill_when_applying(srv, 30)
    again = Server(db, port=port, wait=False)  # replays the log at start: killed while it applies
    caught_replay = _kill_when_applying(again, 120)
    with Server(db, port=port) as last:
        for t in feeders:
            t.join(timeout=120)
        for c in clients:
            c.flush()  # the clients retry what was never acknowledged
            c.shutdown()
        with httpx.Client(base_url=last.url, timeout=10) as http:
            settled(http)
    assert errors == []
    assert caught_apply  # the live applier was loading a batch when the process died
    with parcours.open(db) as store:
        total, distinct = store.con.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM events "
            "WHERE message_id LIKE 'seg-%' OR message_id LIKE 'rud-%'").fetchone()
    assert (total, distinct) == (2 * n, 2 * n)  # every event once: none lost, none twice
    print(f"killed during replay: {caught_replay}")
