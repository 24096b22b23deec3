"""The collector against poison events, broken gzip and conformance probes, and GDPR erase to
the byte, in process: Starlette's TestClient drives the real app (lifespan, store thread, WAL)."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import parcours
from parcours.server import create_app
from parcours.server.keys import create_key
from parcours.server.payload import Limits

EMAIL = "erase.me.please@example.org"


def deep(levels: int) -> dict:
    node: dict = {"leaf": 1}
    for _ in range(levels):
        node = {"n": node}
    return node


#: messages over a bound, each refused alone (tests/test_server_faults.py sends them through real clients)
POISON = {
    "depth_300": {"properties": deep(300)},
    "depth_254_list": {"properties": {"x": json.loads("[" * 254 + "]" * 254)}},
    "keys_5000": {"properties": {f"k{i}": i for i in range(5000)}},
    "string_100k": {"properties": {"text": "x" * 100_000}},
    "key_100k": {"properties": {"y" * 100_000: 1}},
    "size_over": {"properties": {f"k{i}": "v" * 1000 for i in range(100)}},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    db = tmp_path_factory.mktemp("hard") / "store.duckdb"
    with parcours.open(db) as store:
        keys = {role: create_key(store, role, role) for role in ("write", "admin")}
    with TestClient(create_app(db, apply_interval=0.05)) as client:
        yield client, keys, db


def _settle(client: TestClient, admin: str) -> None:
    # an export applies the log first: afterwards the store holds every acknowledged event
    client.get("/v1/gdpr/export/nobody", headers={"Authorization": f"Bearer {admin}"})


def _count(client, keys, sql: str) -> int:
    _settle(client, keys["admin"])
    # a cursor of its own: the server's threads (applier, live triggers) use the store's connection meanwhile
    cursor = client.app.state.collector.store.cursor()
    try:
        return cursor.execute(sql).fetchone()[0]
    finally:
        cursor.close()


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_poison_event_is_refused_alone_and_its_batch_mates_are_stored(served, name):
    client, keys, _ = served
    batch = [{"type": "track", "messageId": f"{name}-{i}", "userId": f"u{i}", "event": "ok"} for i in range(99)]
    batch.insert(40, {"type": "track", "userId": "poison", "event": "bad", **POISON[name]})  # no messageId: hashed
    r = client.post("/v1/batch", json={"batch": batch}, auth=(keys["write"], ""))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 99 and [x["index"] for x in body["rejected"]] == [40]
    assert "over a limit" in body["rejected"][0]["errors"][0]["message"]
    assert _count(client, keys, f"SELECT count(*) FROM events WHERE message_id LIKE '{name}-%'") == 99
    alone = client.post("/v1/track", json=batch[40], auth=(keys["write"], ""))
    assert alone.status_code == 400 and "over a limit" in alone.json()["errors"][0]["message"]


def test_bounds_are_the_documented_ones():
    limits = Limits()
    assert (limits.max_depth, limits.max_keys, limits.max_string, limits.max_event_bytes) == (32, 2000, 32768, 65536)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "collector.md").read_text()
    for figure in ("32 levels", "2,000 keys", "32 KiB", "64 KiB"):
        assert figure in doc


def _gzip_cases() -> dict[str, bytes]:
    good = gzip.compress(json.dumps({"userId": "gz", "event": "zipped", "messageId": "gz-1"}).encode())
    crc = struct.unpack("<I", good[-8:-4])[0] ^ 0xFFFF
    return {"valid": good, "truncated": good[:-6], "no_trailer": good[:-8],
            "bad_crc": good[:-8] + struct.pack("<I", crc) + good[-4:]}


@pytest.mark.parametrize("case", ["valid", "truncated", "no_trailer", "bad_crc"])
def test_gzip_bodies_are_checked_to_the_trailer(served, case):
    client, keys, _ = served
    r = client.post("/v1/track", content=_gzip_cases()[case], auth=(keys["write"], ""),
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    if case == "valid":
        assert r.status_code == 200 and r.json()["accepted"] == 1
    else:
        assert r.status_code == 400 and "not valid gzip" in r.json()["errors"][0]["message"], r.text


def test_a_message_without_any_id_is_refused_alone_and_the_schema_says_so(served):
    client, keys, _ = served
    r = client.post("/v1/batch", auth=(keys["write"], ""), json={"batch": [
        {"type": "track", "event": "anonymous"}, {"type": "track", "userId": "u", "event": "ok"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert r.json()["rejected"][0]["errors"][0]["path"] == "batch[0].userId"
    schema = client.get("/openapi.json").json()
    track = schema["paths"]["/v1/track"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"required": ["anonymousId"]} in track["anyOf"]


def test_conformance_notes(served):
    client, keys, _ = served
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/admin/retention", "/v1/gdpr/erase", "/v1/admin/scrub"):
        assert "400" in paths[path]["post"]["responses"], path
    for end in (0, 1700000000):
        r = client.post("/v1/admin/scrub", json={"property": "email", "end": end}, headers=admin)
        assert r.status_code == 422 and "ISO 8601" in r.text
    r = client.post("/v1/admin/scrub", json={"property": "email", "start": "2024-02-01T00:00:00Z",
                                              "end": "2024-01-01T00:00:00Z"}, headers=admin)
    assert r.status_code == 400 and r.json()["errors"][0]["path"] == "end"
    r = client.options("/v1/admin/keys")
    assert r.status_code == 204 and set(r.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    r = client.request("PATCH", "/v1/admin/keys", headers=admin)
    assert r.status_code == 405 and "POST" in r.headers["allow"]
    assert client.options("/nowhere").status_code == 404


def _files_holding(folder: Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    return found


def _send_person(client, write_key: str, who: str) -> list[str]:
    ids = [f"user-{who}", f"anon-{who}"]
    msgs = [{"type": "identify", "userId": ids[0], "anonymousId": ids[1], "traits": {"email": f"{who}.{EMAIL}"}},
            *({"type": "track", "userId": ids[0], "event": "buy", "properties": {"email": f"{who}.{EMAIL}", "i": i}}
              for i in range(30))]
    assert client.post("/v1/batch", json={"batch": msgs}, auth=(write_key, "")).status_code == 200
    return [*ids, f"{who}.{EMAIL}"]


def test_erase_through_the_server_leaves_no_byte_of_the_person(tmp_path):
    db = tmp_path / "store.duckdb"
    with parcours.open(db) as store:
        write, admin = create_key(store, "write", "w"), create_key(store, "admin", "a")
    with TestClient(create_app(db, apply_interval=0.05)) as client:
        gone = _send_person(client, write, "ann")
        kept = _send_person(client, write, "bob")
        _settle(client, admin)
        assert _files_holding(tmp_path, gone)  # the scan sees them before
        r = client.post("/v1/gdpr/erase", json={"id": gone[0]}, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200 and r.json()["deleted"]["events"] == 31
        assert _files_holding(tmp_path, gone) == []  # while the server still runs
        # the store reopened under the server: it goes on collecting and answering
        assert client.post("/v1/track", json={"userId": "carl", "event": "after"}, auth=(write, "")).status_code == 200
        assert _count(client, {"admin": admin}, "SELECT count(*) FROM events WHERE user_id = 'carl'") == 1
        # a scrubbed property (PII sent by mistake) leaves no byte either
        secret = "ssn-078-05-1120"
        assert client.post("/v1/track", json={"userId": "dan", "event": "form", "properties": {"ssn": secret}},
                           auth=(write, "")).status_code == 200
        _settle(client, admin)
        r = client.post("/v1/admin/scrub", json={"property": "ssn"}, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200 and r.json()["changed"] == 1
        assert _files_holding(tmp_path, [secret]) == []
    assert _files_holding(tmp_path, gone) == []
    assert _files_holding(tmp_path, kept)  # the rest is all there
    with parcours.open(db) as store:
        assert store.con.execute("SELECT count(*) FROM events WHERE user_id = 'user-bob'").fetchone()[0] == 31


def test_cli_erase_leaves_no_byte_of_the_person(tmp_path):
    from parcours.cli.main import app

    db = tmp_path / "store.duckdb"
    with parcours.open(db) as store:
        write = create_key(store, "write", "w")
    with TestClient(create_app(db, apply_interval=60)) as client:  # left in the log: the CLI applies it
        gone = _send_person(client, write, "ann")
    assert _files_holding(tmp_path, gone)
    result = CliRunner().invoke(app, ["--db", str(db), "gdpr", "erase", gone[2]])
    assert result.exit_code == 0, result.output
    assert _files_holding(tmp_path, gone) == []


#: hand-made bad inputs (body bytes) for every collect endpoint: each answered 4xx, or 200 with the bad
#: messages under ``rejected``, never 5xx
BAD_BODIES = [
    b"", b"   ", b"null", b"[]", b"123", b'"text"', b"{", b'{"batch": ', b"\xff\xfe\x00", b'{"a": NaN}',
    b'{"userId": "u", "event": "e", "x": Infinity}', b'{"userId": "\\ud800", "event": "e"}',
    b'{"userId": 1e400, "event": "e"}', b'{"userId": [], "event": "e"}', b'{"userId": {}, "event": {}}',
    b'{"userId": "", "event": ""}', b'{"userId": "u", "event": "e", "timestamp": "not a date"}',
    b'{"userId": "u", "event": "e", "timestamp": "9999-12-31T23:59:59Z", "sentAt": "0001-01-01T00:00:00Z"}',
    b'{"userId": "u", "event": "e", "properties": [1, 2]}', b'{"userId": "u", "event": "e", "context": "x"}',
    b'{"batch": {}}', b'{"batch": [1, "a", null, []]}', b'{"batch": [{"type": "nope", "userId": "u"}]}',
    b'{"batch": [{"type": "alias", "userId": "u"}]}', b'{"type": "track", "userId": "' + b"u" * 600 + b'"}',
    b'{"userId": "u", "event": "e", "properties": ' + b"[" * 1100 + b"]" * 1100 + b"}",
    b'{"userId": "u", "event": "e", "properties": ' + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}",
]


def test_bad_input_list_never_gets_a_server_error(served):
    client, keys, _ = served
    for kind in ("track", "page", "identify", "alias", "group", "batch"):
        for body in BAD_BODIES:
            r = client.post(f"/v1/{kind}", content=body, auth=(keys["write"], ""),
                            headers={"Content-Type": "application/json"})
            assert r.status_code < 500, (kind, body[:60], r.text[:200])
            assert r.status_code in (400, 413) or r.json()["rejected"], (kind, body[:60], r.text[:200])
