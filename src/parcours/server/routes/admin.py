"""Admin API (admin key): GDPR erase and export, retention, scrubbing, keys.

While the server runs it owns the store, so these are the way to do from outside
what ``parcours gdpr`` and ``parcours keys`` do when it is stopped. Erase and export
first apply every acknowledged event, so nothing still in the log is missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from parcours.errors import ParcoursError
from parcours.jsonable import records
from parcours.server.auth import require
from parcours.server.gdpr import apply_retention, erase_person, export_person, scrub_property
from parcours.server.keys import create_key, list_keys, revoke_key
from parcours.server.routes.query import REFUSED

router = APIRouter(tags=["admin"], dependencies=[Depends(require("admin"))], responses=REFUSED)


class EraseRequest(BaseModel):
    id: str = Field(min_length=1, max_length=512, description="Any identifier of the person.")


class RetentionRequest(BaseModel):
    days: int = Field(ge=1, le=36500, description="Delete raw events older than this many days.")


class ScrubRequest(BaseModel):
    property: str = Field(min_length=1, max_length=256, description="NAME (in properties) or context.NAME.")
    start: datetime | None = Field(None, description="ISO 8601 date-time (a number is refused).")
    end: datetime | None = Field(None, description="ISO 8601 date-time (a number is refused).")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        """pydantic reads ``0`` as 1970-01-01: a number here is a mistake, never a date."""
        if value is not None and not isinstance(value, str):
            raise ValueError("give an ISO 8601 date-time string, e.g. 2024-05-01T00:00:00Z")
        return value


class KeyRequest(BaseModel):
    role: Literal["write", "read", "admin"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    source: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")


def _problem(path: str, e: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"success": False, "errors": [{"path": path, "message": str(e)}]}, status)


BAD = {400: {"description": "A bad parameter: the message says which and why."}}


@router.post("/v1/gdpr/erase", responses=BAD)
async def erase(request: Request, body: EraseRequest) -> JSONResponse:
    """Remove a person everywhere at once (events, identities, quarantine, every other table).

    Done means done to the byte: the log segments that held the person are deleted and the
    store file is rewritten (no freed block keeps the person's rows) before the answer."""
    c = request.app.state.collector
    await c.settle()
    try:
        deleted = await c.run_db(erase_person, body.id)
    except ParcoursError as e:
        return _problem("id", e)
    return JSONResponse({"success": True, "id": body.id, "deleted": deleted})


@router.get("/v1/gdpr/export/{person_id}")
async def export(request: Request, person_id: str) -> dict:
    """Everything held about a person, table by table."""
    c = request.app.state.collector
    await c.applier.flush()
    return await c.run_db(export_person, person_id)


@router.post("/v1/admin/retention", responses=BAD)
async def retention(request: Request, body: RetentionRequest) -> JSONResponse:
    c = request.app.state.collector
    await c.applier.flush()
    try:
        deleted = await c.run_db(apply_retention, body.days)
    except ParcoursError as e:
        return _problem("days", e)
    return JSONResponse({"success": True, "deleted": deleted})


@router.post("/v1/admin/scrub", responses={400: {"description": "Not a property name, or end before start."}})
async def scrub(request: Request, body: ScrubRequest) -> JSONResponse:
    c = request.app.state.collector
    start, end = _naive(body.start), _naive(body.end)
    if start is not None and end is not None and end <= start:
        return _problem("end", ParcoursError(f"end {end.isoformat()} is not after start {start.isoformat()}"))
    await c.settle()
    try:
        n = await c.run_db(scrub_property, body.property, start, end)
    except ParcoursError as e:
        return _problem("property", e)
    return JSONResponse({"success": True, "changed": n})


@router.get("/v1/admin/keys")
async def keys(request: Request) -> list[dict]:
    return records(await request.app.state.collector.run_db(list_keys))


@router.post("/v1/admin/keys", responses={400: {"description": "A bad name or source."}})
async def new_key(request: Request, body: KeyRequest) -> JSONResponse:
    c = request.app.state.collector
    try:
        key = await c.run_db(create_key, body.role, body.name, body.source)
    except ParcoursError as e:
        return _problem("name", e)
    await c.run_db(lambda store: c.keys.reload())  # the connection is used on the store's thread only
    return JSONResponse({"success": True, "key": key})


@router.delete("/v1/admin/keys/{key_id}", responses={404: {"description": "No such key."}})
async def revoke(request: Request, key_id: str) -> JSONResponse:
    c = request.app.state.collector
    try:
        await c.run_db(revoke_key, key_id)
    except ParcoursError as e:
        return _problem("key_id", e, 404)
    await c.run_db(lambda store: c.keys.reload())
    return JSONResponse({"success": True})


def _naive(dt: datetime | None) -> datetime | None:
    from datetime import UTC

    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(UTC).replace(tzinfo=None)
