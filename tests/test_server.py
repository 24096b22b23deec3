"""The collector end to end: the real server, a real HTTP client, read back through the store."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from server_process import Server, create_key, settled

import parcours


@pytest.fixture
def db(tmp_path):
    return tmp_path / "collector.duckdb"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that need no restart (starting one costs seconds)."""
    from parcours.server.keys import revoke_key

    db = tmp_path_factory.mktemp("shared") / "shared.duckdb"
    keys = {role: create_key(db, role, role) for role in ("write", "read", "admin")}
    keys["revoked"] = create_key(db, "write", "old")
    keys["backend"] = create_key(db, "write", "backend")
    with parcours.open(db) as store:
        revoke_key(store, keys["revoked"])
    with Server(db, "--max-body", "65536", "--max-batch", "50") as srv:
        yield srv, keys


def rows(db, sql):
    with parcours.open(db) as store:
        return store.con.execute(sql).fetchall()


def test_events_sent_over_http_are_in_the_store_after_stop(db):
    key = create_key(db, "write", "web")
    with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
        now = datetime.now(UTC)  # after the start, which takes a minute on a loaded machine
        r = http.post("/v1/track", json={
            "messageId": "t1", "userId": "u1", "event": "add_to_cart", "properties": {"cart_value": 42},
            "context": {"ip": "203.0.113.77", "campaign": {"source": "google", "medium": "cpc", "name": "spring"}},
        })
        assert r.status_code == 200 and r.json()["accepted"] == 1
        assert http.post("/v1/track", json={"messageId": "t1", "userId": "u1", "event": "add_to_cart"}).status_code == 200
        # the client clock is two hours fast: Segment's correction puts the event at receive time
        fast = now + timedelta(hours=2)
        r = http.post("/v1/page", json={
            "messageId": "p1", "anonymousId": "a1", "name": "Pricing", "properties": {"path": "/pricing"},
            "timestamp": fast.isoformat(), "sentAt": (fast + timedelta(seconds=1)).isoformat(),
        })
        assert r.status_code == 200
        assert http.post("/v1/identify", json={
            "messageId": "i1", "userId": "u1", "anonymousId": "a1", "traits": {"email": "ann@example.com"}}
        ).status_code == 200
        assert http.post("/v1/alias", json={"messageId": "al1", "userId": "u1", "previousId": "old-1"}).status_code == 200
        assert http.post("/v1/screen", json={"messageId": "s1", "userId": "u1", "name": "Home"}).status_code == 200
        r = http.post("/v1/track", json={"messageId": "c1", "userId": "u9", "event": "x", "context": {"consent": False}})
        assert r.json() == {"success": True, "accepted": 0, "not_consented": 1, "rejected": []}
        metrics = http.get("/metrics").json()
        assert metrics["accepted"] == 6 and metrics["not_consented"] == 1
        sent = datetime.now(UTC)

    got = {r[0]: r[1:] for r in rows(db, """
        SELECT message_id, type, event, user_id, anonymous_id, previous_id, channel, utm_source, utm_medium,
               utm_campaign, json_extract_string(properties, '$.cart_value'), json_extract_string(context, '$.ip'),
               source, timestamp FROM events""")}
    assert sorted(got) == ["al1", "i1", "p1", "s1", "t1"]  # the retry of t1 is stored once; c1 not at all
    t1 = got["t1"]
    assert t1[:9] == ("track", "add_to_cart", "u1", None, None, None, "google", "cpc", "spring")
    assert t1[9] == "42" and t1[10] == "203.0.113.0"  # the raw IP is never stored
    assert t1[11] == "web"
    assert got["p1"][:2] == ("page", "page") and got["p1"][5] == "web"
    assert abs(got["p1"][12] - (now.replace(tzinfo=None) - timedelta(seconds=1))) < timedelta(seconds=30)
    assert got["s1"][:2] == ("screen", "screen") and got["s1"][5] == "app"
    assert got["al1"][4] == "old-1"
    # received_at is when each request arrived (the log may be applied later, at the stop)
    received = rows(db, "SELECT min(received_at), max(received_at) FROM events")[0]
    assert now.replace(tzinfo=None) <= received[0] <= received[1] <= sent.replace(tzinfo=None)
    assert rows(db, "SELECT json_extract_string(properties, '$.email') FROM events WHERE message_id = 'i1'") == [
        ("ann@example.com",)]
    assert rows(db, "SELECT count(*) FROM events WHERE context::VARCHAR LIKE '%203.0.113.77%'") == [(0,)]
    # identify and alias stitched u1, a1 and old-1 into one customer
    assert rows(db, "SELECT count(DISTINCT customer_id) FROM identity_map WHERE identifier IN ('u1', 'a1', 'old-1')") == [(1,)]


def test_bad_input_names_each_field_and_never_500(shared):
    srv, keys = shared
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    with httpx.Client(base_url=srv.url, auth=(keys["write"], ""), timeout=10) as http:
        def errors(path, body=None, content=None, status=400):
            r = http.post(path, json=body) if content is None else http.post(path, content=content)
            assert r.status_code == status, r.text
            return {(e["path"], e["message"]) for e in r.json()["errors"]}

        assert {p for p, _ in errors("/v1/track", content=b'{"userId": "u1",')} == {"body"}
        assert {p for p, _ in errors("/v1/track", content=b"")} == {"body"}
        assert {p for p, _ in errors("/v1/track", content=b"[1, 2]")} == {"body"}
        assert {p for p, _ in errors("/v1/track", {"userId": "u1", "event": "e", "properties": [1]})} == {"properties"}
        assert {p for p, _ in errors("/v1/track", {"userId": ["u"], "event": 5})} >= {"event"}
        assert {p for p, _ in errors("/v1/track", {"event": "e"})} == {"userId"}
        assert {p for p, _ in errors("/v1/track", {"userId": "u"})} == {"event"}
        assert {p for p, _ in errors("/v1/alias", {"userId": "u"})} == {"previousId"}
        assert {p for p, _ in errors("/v1/track", {"userId": "u", "event": "e", "timestamp": "yesterday"})} == {"timestamp"}
        assert {p for p, _ in errors("/v1/track", {"userId": "u", "event": "e", "timestamp": future})} == {"timestamp"}
        assert {p for p, _ in errors("/v1/page", {"type": "track", "userId": "u"})} == {"type"}
        # times that overflow once corrected to UTC, text that cannot be stored faithfully
        for ts, sent in (("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"), ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"),
                         ("0001-01-01T00:00:00+01:00", None), ("9999-12-31T23:59:59-01:00", None)):
            body = {"userId": "u", "event": "e", "timestamp": ts, **({"sentAt": sent} if sent else {})}
            assert {p for p, _ in errors("/v1/track", body)} == {"timestamp"}
            assert {p for p, _ in errors("/v1/batch", {"batch": [{**body, "type": "track"}]})} == {"batch[0].timestamp"}
        assert {p for p, _ in errors("/v1/track", content=b'{"userId": "u", "event": "\\ud800"}')} == {"body"}
        assert {p for p, _ in errors("/v1/track", content=b'{"userId": "u", "event": "e", "properties": {"x": NaN}}')} == {"body"}
        r = http.post("/v1/track", content=b'{"userId": "' + b"x" * 70000 + b'"}')
        assert r.status_code == 413 and r.json()["limit"] == 65536 and "65536" in r.json()["errors"][0]["message"]
        many = {"batch": [{"type": "track", "userId": "u", "event": "e"}] * 51}
        assert {p for p, _ in errors("/v1/batch", many)} == {"batch"}
        assert {p for p, _ in errors("/v1/batch", {"batch": []})} == {"batch"}
        assert {p for p, _ in errors("/v1/batch", {"batch": "nope"})} == {"batch"}

        r = http.post("/v1/batch", json={"batch": [
            {"type": "track", "messageId": "ok1", "userId": "bad-input-user", "event": "e"},
            {"type": "track", "messageId": "bad1", "userId": "u"},
            {"type": "nonsense", "userId": "u"},
            {"type": "page", "messageId": "ok2", "anonymousId": "bad-input-user", "properties": {"path": "/"}},
            "not an object",
        ]})
        assert r.status_code == 200
        body = r.json()
        assert body["accepted"] == 2
        assert [(x["index"], x["errors"][0]["path"]) for x in body["rejected"]] == [
            (1, "batch[1].event"), (2, "batch[2].type"), (4, "batch[4]")]
        settled(http)
        got = httpx.get(srv.url + "/v1/customers/bad-input-user", timeout=10,
                        headers={"Authorization": f"Bearer {keys['read']}"}).json()
        assert sorted(e["message_id"] for e in got.get("timeline", [])) == ["ok1", "ok2"], got
    assert "Traceback" not in srv.logs()


def test_keys_refused_cases(shared):
    srv, keys = shared
    write, read, admin, revoked = keys["write"], keys["read"], keys["admin"], keys["revoked"]
    event = {"userId": "u", "event": "e"}
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        assert http.post("/v1/track", json=event).status_code == 401
        assert http.post("/v1/track", json=event, auth=("wrong-key", "")).status_code == 401
        assert http.post("/v1/track", json=event, auth=(revoked, "")).status_code == 401
        assert http.post("/v1/track", json=event, auth=(read, "")).status_code == 403
        assert http.post("/v1/track", json={**event, "writeKey": write}).status_code == 200
        assert http.post("/v1/track", json=event, headers={"X-Write-Key": write}).status_code == 200
        bearer = lambda k: {"Authorization": f"Bearer {k}"}  # noqa: E731
        for path in ("/v1/stats", "/v1/customers/u", "/v1/gdpr/export/u", "/v1/admin/keys"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers=bearer("nope")).status_code == 401, path
            assert http.get(path, headers=bearer(revoked)).status_code == 401, path
            assert http.get(path, headers=bearer(write)).status_code == 403, path
        assert http.get("/v1/stats", headers=bearer(read)).status_code == 200
        assert http.get("/v1/gdpr/export/u", headers=bearer(read)).status_code == 403
        assert http.post("/v1/gdpr/erase", json={"id": "u"}, headers=bearer(read)).status_code == 403
        # a key revoked over the admin API while the server runs is refused at once
        made = http.post("/v1/admin/keys", json={"role": "write", "name": "shop"}, headers=bearer(admin)).json()["key"]
        assert http.post("/v1/track", json=event, auth=(made, "")).status_code == 200
        assert http.delete(f"/v1/admin/keys/{made}", headers=bearer(admin)).status_code == 200
        r = http.post("/v1/track", json=event, auth=(made, ""))
        assert r.status_code == 401 and r.json()["errors"][0]["path"] == "authorization"


def test_shipped_segment_client_works_unchanged(shared):
    from segment.analytics import Client

    srv, keys = shared
    errors = []
    client = Client(keys["backend"], host=srv.url, sync_mode=True, max_retries=1,
                    on_error=lambda e, batch: errors.append(e))
    client.identify("cust-1", {"email": "c1@example.com"}, anonymous_id="anon-1")
    client.track("cust-1", "purchase", {"revenue": 99.5})
    client.page("cust-1", category="docs", name="Install", properties={"path": "/docs"})
    client.screen("cust-1", name="Cart")
    client.alias("anon-2", "cust-1")
    client.flush()
    assert not errors
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        settled(http)
        got = http.get("/v1/gdpr/export/cust-1", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    events = got["tables"]["events"]
    assert sorted((e["type"], e["event"], e["user_id"], e["source"]) for e in events) == sorted([
        ("identify", "identify", "cust-1", "backend"), ("track", "purchase", "cust-1", "backend"),
        ("page", "page", "cust-1", "backend"), ("screen", "screen", "cust-1", "backend"),
        ("alias", "alias", "cust-1", "backend")])
    page = next(e for e in events if e["type"] == "page")
    assert page["properties"]["name"] == "Install" and page["properties"]["category"] == "docs"
    assert next(e for e in events if e["event"] == "purchase")["properties"]["revenue"] == 99.5
    assert {"cust-1", "anon-1", "anon-2", "email:c1@example.com"} <= set(got["identifiers"])


def test_shipped_rudderstack_client_works_unchanged(shared):
    """RudderStack's Python SDK as shipped: gzip'd batches to /v1/batch with the key as Basic user."""
    from rudderstack.analytics.client import Client

    srv, keys = shared
    errors = []
    client = Client(keys["backend"], host=srv.url, sync_mode=True, max_retries=1, gzip=True,
                    on_error=lambda e, batch: errors.append(e))
    client.identify("rudder-1", {"email": "r1@example.com"}, anonymous_id="rudder-anon")
    client.track("rudder-1", "add_to_cart", {"cart_value": 12.5}, context={"campaign": {"source": "news"}})
    client.page("rudder-1", category="docs", name="Pricing", properties={"path": "/pricing"})
    client.flush()
    assert not errors
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        settled(http)
        got = http.get("/v1/gdpr/export/rudder-1", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    events = got["tables"]["events"]
    assert sorted((e["type"], e["event"], e["source"]) for e in events) == [
        ("identify", "identify", "backend"), ("page", "page", "backend"), ("track", "add_to_cart", "backend")]
    cart = next(e for e in events if e["event"] == "add_to_cart")
    assert cart["properties"]["cart_value"] == 12.5 and cart["utm_source"] == "news"
    assert {"rudder-1", "rudder-anon", "email:r1@example.com"} <= set(got["identifiers"])


def test_openapi_lists_every_endpoint(shared):
    srv, _ = shared
    spec = httpx.get(srv.url + "/openapi.json", timeout=10).json()
    paths = set(spec["paths"])
    for kind in ("track", "page", "screen", "identify", "alias", "group", "batch"):
        assert f"/v1/{kind}" in paths
        assert "requestBody" in spec["paths"][f"/v1/{kind}"]["post"]
    assert {"/health", "/metrics", "/t.js", "/v1/stats", "/v1/gdpr/erase", "/v1/admin/keys"} <= paths
    assert json.dumps(spec)


def test_tracker_is_served_and_its_payload_accepted(shared, tmp_path):
    """Run t.js under Node with a minimal browser (location, storage, fetch), then replay
    the requests it made against the server."""
    import shutil

    srv, keys = shared
    r = httpx.get(srv.url + "/t.js", timeout=10)
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot run the tracker")
    (tmp_path / "t.js").write_text(r.text)
    harness = tmp_path / "run.js"
    harness.write_text("""
const sent = []; const mem = {};
const storage = {getItem: k => (k in mem ? mem[k] : null), setItem: (k, v) => { mem[k] = String(v); }};
global.window = {
  location: {pathname: "/landing", href: "https://shop.example/landing?utm_source=news&utm_medium=email&utm_campaign=may",
             search: "?utm_source=news&utm_medium=email&utm_campaign=may"},
  navigator: {userAgent: "node", language: "en"}, localStorage: storage, sessionStorage: storage,
  crypto: require("crypto").webcrypto,
  fetch: (url, opts) => { sent.push({url, body: opts.body, headers: opts.headers}); return Promise.resolve(); },
};
global.window.crypto.randomUUID = () => require("crypto").randomUUID();
global.document = {title: "Landing", referrer: "", currentScript: {
  src: "SERVER/t.js", getAttribute: n => (n === "data-key" ? "KEY" : null)}};
require("./t.js");
window.parcours.track("add_to_cart", {cart_value: 12});
window.parcours.identify("js-user", {email: "js@example.com"});
process.stdout.write(JSON.stringify(sent));
""".replace("SERVER", srv.url).replace("KEY", keys["write"]))
    out = subprocess.run([node, str(harness)], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sent = json.loads(out.stdout)
    assert [s["url"].rsplit("/", 1)[-1] for s in sent] == ["page", "track", "identify"]
    with httpx.Client(timeout=10) as http:
        for s in sent:
            r = http.post(s["url"], content=s["body"], headers=s["headers"])
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        anon = json.loads(sent[0]["body"])["anonymousId"]
        http.base_url = srv.url
        settled(http)
        got = http.get(f"/v1/customers/{anon}", headers={"Authorization": f"Bearer {keys['read']}"}).json()
    assert got["customer"] == "js-user"
    assert sorted(e["event"] for e in got["timeline"]) == ["add_to_cart", "identify", "page"]


def test_python_client_sends_batches(shared):
    from parcours.client import Client, CollectorError

    srv, keys = shared
    with Client(srv.url, keys["write"], batch_size=3) as c:
        c.identify("py-user", {"email": "py@example.com"}, anonymous_id="py-anon")
        c.track("py-user", "purchase", {"revenue": 5})
        c.page(None, "Home", {"path": "/"}, anonymous_id="py-anon")  # the third message sends the batch
        c.track("py-user", "delivery")
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        settled(http)
        got = http.get("/v1/customers/py-anon", headers={"Authorization": f"Bearer {keys['read']}"}).json()
    assert sorted(e["event"] for e in got["timeline"]) == ["delivery", "identify", "page", "purchase"]
    with pytest.raises(CollectorError) as err, Client(srv.url, "not-a-key") as bad:
        bad.track("u", "e")
    assert err.value.status == 401
