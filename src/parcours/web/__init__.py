"""The dashboard: journey map, analyses and report, mounted on the collector's app.

``mount(app)`` adds the pages to the app ``parcours serve`` runs; every store access goes
through the collector's store thread, so the dashboard and the collector share one store.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from parcours.web.routes import public, router
from parcours.web.session import NotSignedIn
from parcours.web.state import Dashboard


def mount(app: FastAPI) -> None:
    """Add the dashboard's routes and state to ``app`` (built by ``parcours.server.create_app``)."""
    app.state.dashboard = dashboard = Dashboard()
    collector_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with collector_lifespan(app) as state:
            try:
                yield state
            finally:  # before the collector closes the store
                if dashboard.warming is not None:
                    dashboard.warming.cancel()
                if dashboard.reader is not None:
                    dashboard.reader.close()

    app.router.lifespan_context = lifespan

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if exc.bad_key or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"success": False, "errors": [{"path": "authorization",
                                 "message": "a read key (Bearer) or a dashboard login is needed"}]}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    app.include_router(public)
    app.include_router(router)


__all__ = ["mount"]
