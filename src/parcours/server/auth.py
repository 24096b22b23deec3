"""Who is calling: write keys (HTTP Basic user name, ``X-Write-Key`` or Segment's
``writeKey`` body field), read and admin keys (``Authorization: Bearer KEY``).

Every refusal is a JSON body naming the ``authorization`` field: 401 when no valid
key was given (none, unknown, revoked), 403 when the key's role does not allow it.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from parcours.errors import Refused
from parcours.server.keys import ApiKey

basic = HTTPBasic(auto_error=False, description="A write key as the user name, empty password (as Segment).")
bearer = HTTPBearer(auto_error=False, description="A read or admin key.")
write_header = APIKeyHeader(name="X-Write-Key", auto_error=False, description="A write key.")


def refused_response(exc: Refused) -> JSONResponse:
    """The JSON answer to a ``Refused`` request (401s also ask for credentials)."""
    headers = {"WWW-Authenticate": 'Basic realm="parcours"'} if exc.status == 401 else None
    return JSONResponse(
        {"success": False, "errors": [{"path": "authorization", "message": exc.message}]},
        status_code=exc.status, headers=headers,
    )


async def presented_key(
    b: HTTPBasicCredentials | None = Depends(basic),
    t: HTTPAuthorizationCredentials | None = Depends(bearer),
    h: str | None = Depends(write_header),
) -> str | None:
    """The key the request carries in a header, if any.

    ``async`` (as every dependency here) though it awaits nothing: FastAPI runs a plain
    ``def`` dependency in a worker thread, a thread hop per request that cost more CPU than
    the rest of a single-event request.
    """
    if h:
        return h
    if b is not None:
        return b.username
    if t is not None:
        return t.credentials
    return None


def check(request: Request, key_text: str | None, need: str) -> ApiKey:
    key = request.app.state.collector.keys.check(key_text)
    if key_text is None:
        raise Refused(401, f"a {need} key is needed")
    if key is None:
        raise Refused(401, "unknown or revoked key")
    if not key.allows(need):
        raise Refused(403, f"a {key.role} key cannot do this; a {need} key is needed")
    return key


def require(need: str):
    """A dependency: the calling key, which must allow ``need`` (write, read or admin)."""

    async def dependency(request: Request, key_text: str | None = Depends(presented_key)) -> ApiKey:
        return check(request, key_text, need)

    return dependency
