"""API keys: the CLI's stable output, hashing, roles and revocation."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import parcours
from parcours.cli.main import app
from parcours.errors import ParcoursError
from parcours.server.keys import KeyRing, create_key, hash_key, revoke_key

runner = CliRunner()


def test_cli_create_prints_the_key_alone_on_its_last_line_and_stores_only_its_hash(tmp_path):
    db = str(tmp_path / "k.duckdb")
    out = runner.invoke(app, ["--db", db, "keys", "create", "--role", "write", "--name", "web"])
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    assert key.startswith("pw_") and " " not in key and len(key) > 40
    listed = runner.invoke(app, ["--db", db, "keys", "list", "--format", "json"])
    rows = json.loads(listed.output)
    assert [(r["role"], r["name"], r["source"], r["revoked_at"]) for r in rows] == [("write", "web", "web", None)]
    with parcours.open(db) as store:
        stored = store.con.execute("SELECT key_hash FROM api_keys").fetchall()
        assert stored == [(hash_key(key),)]
        assert key not in json.dumps(store.con.execute("SELECT * FROM api_keys").df().astype(str).values.tolist())
    revoked = runner.invoke(app, ["--db", db, "keys", "revoke", rows[0]["key_id"]])
    assert revoked.exit_code == 0 and rows[0]["key_id"] in revoked.output
    again = json.loads(runner.invoke(app, ["--db", db, "keys", "list", "--format", "json"]).output)
    assert again[0]["revoked_at"] is not None


def test_roles_and_revocation(store):
    write = create_key(store, "write", "web")
    read = create_key(store, "read", "dash")
    admin = create_key(store, "admin", "ops", )
    ring = KeyRing(store)
    assert ring.check(write).allows("write") and not ring.check(write).allows("read")
    assert ring.check(read).allows("read") and not ring.check(read).allows("admin")
    assert all(ring.check(admin).allows(r) for r in ("write", "read", "admin"))
    assert ring.check(None) is None and ring.check("") is None and ring.check(write + "x") is None
    revoke_key(store, write)  # the whole key works as well as its id
    ring.reload()
    assert ring.check(write) is None and ring.check(read) is not None


def test_bad_key_requests_say_what_is_wrong(store):
    with pytest.raises(ParcoursError, match="^`role` 'owner'"):
        create_key(store, "owner", "x")
    with pytest.raises(ParcoursError, match="^`name` 'has space'"):
        create_key(store, "read", "has space")
    with pytest.raises(ParcoursError, match="no such key"):
        revoke_key(store, "pw_00000000")


def test_store_connection_draws_no_progress_bar(store):
    """DuckDB prints its progress bar on stdout for slow queries (a loaded machine), which
    corrupted `keys create`/`keys list --format json` output; the store turns it off."""
    assert store.con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
