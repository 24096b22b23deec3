"""``create_app``: the one ASGI app of ``parcours serve``.

The collector, query and admin routers are included here; the dashboard mounts its
own routers on the same app (``app.include_router``), so one process owns the store.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from parcours.errors import Refused
from parcours.server.allow import AllowHeader
from parcours.server.auth import refused_response
from parcours.server.payload import Limits
from parcours.server.routes import admin, collect, lease, ops, query
from parcours.server.state import Collector, Settings
from parcours.store.sharing import Claim


def create_app(
    db_path: str | Path,
    *,
    ip_mode: str = "truncate",
    limits: Limits | None = None,
    apply_interval: float = 0.25,
    claim: Claim | None = None,
    max_backlog_events: int = Settings.max_backlog_events,
    max_backlog_bytes: int = Settings.max_backlog_bytes,
) -> FastAPI:
    """The server app over the store at ``db_path`` (opened, and its log replayed, at start).

    With ``claim`` (``parcours serve`` claimed the store), other processes borrow the store
    from this server in turn (``parcours.store.sharing``).
    """
    settings = Settings(ip_mode=ip_mode, limits=limits or Limits(), apply_interval=apply_interval,
                        max_backlog_events=max_backlog_events, max_backlog_bytes=max_backlog_bytes)
    collector = Collector(db_path, settings, claim)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await collector.start()
        try:
            yield
        finally:
            await collector.stop()

    app = FastAPI(
        title="parcours", version=_version(), lifespan=lifespan,
        description="Customer-journey analytics: a Segment-compatible collector, the query API and admin.",
    )
    app.state.collector = collector
    app.add_middleware(AllowHeader, root=app)  # inside CORS: a preflight is CORS's to answer
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "X-Write-Key"])

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return refused_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"success": False, "errors": errors}, status_code=422)

    for module in (ops, collect, query, admin, lease):
        app.include_router(module.router)
    from parcours.web import mount  # the dashboard pages (parcours.web) on the same app

    mount(app)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parcours")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"
