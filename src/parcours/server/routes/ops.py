"""Health, metrics and the JavaScript tracker: open endpoints that hold no customer data."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Metrics(BaseModel):
    requests: int
    received: int
    accepted: int
    rejected: int
    not_consented: int
    applied: int
    queue_depth: int
    queue_bytes: int
    busy: int
    wal_commits: int
    last_commit: str | None
    last_apply: str | None
    last_error: str | None
    replayed_at_start: int
    webhook_attempts: int
    webhook_error: str | None


@router.get("/health", response_model=Health)
async def health() -> dict:
    """200 once the server is ready: the log has been replayed and events are accepted."""
    return {"status": "ok"}


@router.get("/metrics", response_model=Metrics)
async def metrics(request: Request) -> dict:
    """Counts since start: events received, accepted, rejected, not consented, applied;
    events acknowledged but not yet in the store (queue depth); the last log commit."""
    return request.app.state.collector.metrics()


@router.get("/t.js", response_class=Response, responses={200: {"content": {"application/javascript": {}}}})
async def tracker() -> Response:
    """The browser tracker: page views, custom events, UTM capture, a first-party anonymous id."""
    text = files("parcours.server").joinpath("static/t.js").read_text(encoding="utf-8")
    return Response(text, media_type="application/javascript", headers={"Cache-Control": "public, max-age=3600"})
