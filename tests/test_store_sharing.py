"""One store, many processes: every command works beside ``parcours serve`` (``parcours.store.sharing``).

A real server runs in a subprocess; the commands run as real CLI processes beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from server_process import PARCOURS, Server, cli, create_key

import parcours
from parcours.server.wal import segments, wal_dir
from parcours.store.sharing import claim_path

ROOT = Path(__file__).resolve().parents[1]


def track(http: httpx.Client, user: str, event: str, message_id: str) -> None:
    r = http.post("/v1/track", json={"userId": user, "event": event, "messageId": message_id})
    assert r.status_code == 200, r.text


def events_named(db: Path, name: str) -> int:
    r = cli(db, "stats", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "lock" not in r.stderr.lower()
    return json.loads(r.stdout)["events_by_name"].get(name, 0)


@pytest.fixture
def served(tmp_path):
    db = tmp_path / "shop.duckdb"
    key = create_key(db, "write", "web")
    with Server(db) as srv, httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
        yield db, srv, http


def test_reads_and_writes_beside_a_running_server(served, tmp_path):
    db, srv, http = served
    claim = claim_path(db)
    assert claim.stat().st_mode & 0o777 == 0o600  # the key is readable by the store's owner only
    track(http, "ann", "signup", "m-1")
    # a read sees every event acknowledged before it, applied or not
    assert events_named(db, "signup") == 1

    # writes: a key created beside the server works on the collector at once
    r = cli(db, "keys", "create", "--role", "write", "--name", "app")
    assert r.returncode == 0, r.stderr
    app_key = r.stdout.strip().splitlines()[-1]
    r2 = httpx.post(srv.url + "/v1/track", auth=(app_key, ""), timeout=10,
                    json={"userId": "bob", "event": "signup", "messageId": "m-2"})
    assert r2.status_code == 200, r2.text

    csv = tmp_path / "more.csv"
    csv.write_text("user_id,event,timestamp\ncid,purchase,2024-03-01T10:00:00Z\ncid,purchase,2024-03-02T10:00:00Z\n")
    r = cli(db, "import", str(csv))
    assert r.returncode == 0, r.stderr
    assert events_named(db, "purchase") == 2
    assert events_named(db, "signup") == 2

    r = cli(db, "segment", "create", "buyers", "--where", "events('purchase', 3650) >= 1")
    assert r.returncode == 0, r.stderr
    r = cli(db, "journey", "set", str(ROOT / "src/parcours/config/templates/ecommerce.toml"))
    assert r.returncode == 0, r.stderr
    r = cli(db, "gdpr", "erase", "ann")
    assert r.returncode == 0, r.stderr
    for args in (("funnel", "signup", "purchase"), ("paths",), ("segment", "list")):
        r = cli(db, *args)
        assert r.returncode == 0, (args, r.stderr)
    assert "buyers" in r.stdout
    assert events_named(db, "signup") == 1  # ann is gone, bob stays
    # the erased person left no copy in the collector's log
    assert not any(b"ann" in p.read_bytes() for p in wal_dir(db).glob("*.jsonl"))

    # the server kept serving throughout, and took the store back after each command
    track(http, "cid", "signup", "m-3")
    assert events_named(db, "signup") == 2
    template = parcours.parse_config((ROOT / "src/parcours/config/templates/ecommerce.toml").read_text(), "t")
    with parcours.open(db, read_only=True) as store:  # the Python API borrows it the same way
        assert [s.name for s in store.config.stages] == [s.name for s in template.stages]


def test_a_second_server_names_the_first_and_exits_2(served):
    db, srv, _ = served
    r = cli(db, "serve", "--port", "0")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"already served by PID {srv.proc.pid} on {srv.url}" in lines[0]


def test_a_command_waits_its_turn_and_says_so(served):
    """A holder keeps the store until the waiting command has said that it waits (however slow the machine)."""
    db, _, http = served
    track(http, "ann", "signup", "m-1")
    release = db.parent / "release-the-store"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, time, parcours
        with parcours.open({str(db)!r}) as store:
            print("holding", flush=True)
            deadline = time.time() + 120
            while not os.path.exists({str(release)!r}) and time.time() < deadline:
                time.sleep(0.05)
    """)], stdout=subprocess.PIPE, text=True)
    err_path = db.parent / "stats.err"
    try:
        assert holder.stdout.readline().strip() == "holding"
        with err_path.open("w") as err:
            waiting = subprocess.Popen([*PARCOURS, "--db", str(db), "stats", "--format", "json"],
                                       stdout=subprocess.PIPE, stderr=err, text=True)
            deadline = time.time() + 120
            while "waiting" not in err_path.read_text() and waiting.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            release.touch()
            out, _ = waiting.communicate(timeout=180)
    finally:
        release.touch()
        holder.wait(timeout=60)
    stderr = err_path.read_text()
    assert waiting.returncode == 0, stderr
    assert json.loads(out)["events_by_name"]["signup"] == 1
    assert "waiting" in stderr and f"PID {holder.pid}" in stderr


def test_acknowledged_events_are_visible_after_kill_9_without_a_restart(tmp_path):
    db = tmp_path / "crash.duckdb"
    key = create_key(db, "write", "web")
    srv = Server(db, "--apply-interval", "30")  # nothing applied before the kill
    try:
        with httpx.Client(base_url=srv.url, auth=(key, ""), timeout=10) as http:
            for i in range(5):
                track(http, f"u{i}", "crash_probe", f"m-{i}")
    finally:
        srv.kill9()
    assert segments(wal_dir(db))
    assert events_named(db, "crash_probe") == 5
    assert not segments(wal_dir(db))  # applied, so removed
    r = subprocess.run([*PARCOURS, "--db", str(db), "stats", "--format", "json"], capture_output=True, text=True,
                       timeout=180)
    assert json.loads(r.stdout)["events_by_name"]["crash_probe"] == 5  # exactly once
