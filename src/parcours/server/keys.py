"""API keys: write keys per source, read keys for the query API, admin keys.

A key is shown once, when created; the store keeps only its sha256 (keys are 32
random bytes, so a plain hash cannot be brute-forced) and a short public id for
lists and revocation. ``KeyRing`` is the server's in-memory view, so checking a key
costs one hash and one dict lookup, not a database query per request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import pandas as pd

from parcours.errors import ParcoursError
from parcours.store.store import Store, utcnow

ROLES = ("write", "read", "admin")
#: what each role may do; admin may do everything
GRANTS = {"write": {"write"}, "read": {"read"}, "admin": {"write", "read", "admin"}}
_PREFIX = {"write": "pw", "read": "pr", "admin": "pa"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    role: str
    name: str
    source: str

    def allows(self, need: str) -> bool:
        return need in GRANTS[self.role]


def create_key(store: Store, role: str, name: str, source: str | None = None) -> str:
    """Create a key and return it; this is the only time the key itself is known."""
    if role not in ROLES:
        raise ParcoursError(f"`role` {role!r}: use one of {', '.join(ROLES)}")
    if not _NAME_RE.match(name):
        raise ParcoursError(f"`name` {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    source = source or name
    if not _NAME_RE.match(source):
        raise ParcoursError(f"`source` {source!r}: use 1-64 letters, digits, '.', '_' or '-'")
    key_id = f"{_PREFIX[role]}_{secrets.token_hex(4)}"
    key = f"{key_id}_{secrets.token_urlsafe(32)}"
    store.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [key_id, hash_key(key), role, name, source, utcnow()],
    )
    return key


def list_keys(store: Store) -> pd.DataFrame:
    """Every key ever created (never the key itself): id, role, name, source, created, revoked."""
    return store.execute(
        "SELECT key_id, role, name, source, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
    ).df()


def revoke_key(store: Store, key_id: str) -> str:
    """Revoke a key by its id (or by the key itself); it is refused from then on."""
    key_id = key_id.strip()
    if key_id.count("_") >= 2:  # the whole key was given
        key_id = "_".join(key_id.split("_")[:2])
    row = store.execute("SELECT revoked_at FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    if row is None:
        raise ParcoursError(f"key {key_id!r}: no such key (see `parcours keys list`)")
    if row[0] is None:
        store.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [utcnow(), key_id])
    return key_id


class KeyRing:
    """The live keys of a store, by hash, kept in memory by the server."""

    def __init__(self, store: Store):
        self.store = store
        self.reload()

    def reload(self) -> None:
        rows = self.store.execute(
            "SELECT key_hash, key_id, role, name, source FROM api_keys WHERE revoked_at IS NULL"
        ).fetchall()
        self._by_hash = {h: ApiKey(key_id, role, name, source) for h, key_id, role, name, source in rows}

    def check(self, key: str | None) -> ApiKey | None:
        if not key:
            return None
        return self._by_hash.get(hash_key(key))
