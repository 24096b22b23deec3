"""Who may read the dashboard: a signed session cookie set by the login form, or a read key.

The login form takes a read (or admin) key once and sets a cookie holding the key's public
id, an expiry and an HMAC of both under a secret kept in the store; the key itself is never
stored in the browser. Every request checks the signature and that the key is still live, so
revoking the key (``parcours keys revoke``) signs its sessions out. API clients may send
``Authorization: Bearer KEY`` instead.

Changing state (``editor``) needs a key that may write (write or admin role) and, for a
cookie session, the session's CSRF token in the form (``csrf``) or an ``X-CSRF-Token``
header: an HMAC of the cookie, so another site cannot forge it, and it dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import Request

from parcours.errors import Refused
from parcours.store.store import Store

if TYPE_CHECKING:  # the key type only: the server mounts the dashboard, not the other way round
    from parcours.server.keys import ApiKey

COOKIE = "parcours_session"
SECRET_META = "dashboard_session_secret"
LIFETIME_SECONDS = 7 * 24 * 3600


class NotSignedIn(Exception):
    """Raised by ``viewer``: HTML pages answer with a redirect to the login form."""

    def __init__(self, bad_key: bool = False):
        self.bad_key = bad_key


def session_secret(store: Store) -> bytes:
    """The store's cookie-signing secret, created on first use."""
    value = store.get_meta(SECRET_META)
    if value is None:
        value = secrets.token_hex(32)
        store.set_meta(SECRET_META, value)
    return bytes.fromhex(value)


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def make_cookie(secret: bytes, key_id: str, now: float | None = None) -> str:
    payload = f"{key_id}.{int((now or time.time()) + LIFETIME_SECONDS)}"
    return f"{payload}.{_sign(secret, payload)}"


def cookie_key_id(secret: bytes, value: str | None, now: float | None = None) -> str | None:
    """The key id a cookie was issued for, if its signature holds and it has not expired."""
    if not value or value.count(".") != 2:
        return None
    key_id, expiry, sig = value.split(".")
    if not hmac.compare_digest(sig, _sign(secret, f"{key_id}.{expiry}")):
        return None
    if not expiry.isdigit() or int(expiry) < (now or time.time()):
        return None
    return key_id


def live_key(request: Request, key_id: str) -> ApiKey | None:
    """The live key with this public id (None when revoked or unknown)."""
    ring = request.app.state.collector.keys
    for key in ring._by_hash.values():  # the ring is small: one entry per live key
        if key.key_id == key_id:
            return key
    return None


def bearer_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def viewer(request: Request) -> ApiKey:
    """A dependency: the read key behind this request (Bearer header or session cookie)."""
    ring = request.app.state.collector.keys
    token = bearer_key(request)
    if token is not None:
        key = ring.check(token)
        if key is None or not key.allows("read"):
            raise NotSignedIn(bad_key=True)
        return key
    secret = await request.app.state.dashboard.get_secret(request.app.state.collector)
    key_id = cookie_key_id(secret, request.cookies.get(COOKIE))
    key = live_key(request, key_id) if key_id else None
    if key is None or not key.allows("read"):
        raise NotSignedIn()
    return key


def csrf_token(secret: bytes | None, cookie: str | None) -> str:
    """The CSRF token of a cookie session ("" without one): bound to the cookie, so per session."""
    return _sign(secret, f"csrf.{cookie}") if secret and cookie else ""


async def editor(request: Request) -> ApiKey:
    """A dependency for state-changing actions: a write or admin key, and the CSRF token for a cookie."""
    key = await viewer(request)
    if not key.allows("write"):
        raise Refused(403, f"a {key.role} key cannot change anything here; sign in with a write or admin key")
    if bearer_key(request) is None:  # a cookie session: the browser sends cookies for any site's form
        secret = await request.app.state.dashboard.get_secret(request.app.state.collector)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        sent = request.headers.get("x-csrf-token") or (form.get("csrf") or [""])[0]
        if not sent or not hmac.compare_digest(sent, csrf_token(secret, request.cookies.get(COOKIE))):
            raise Refused(403, "missing or wrong CSRF token: reload the page and try again")
    return key
