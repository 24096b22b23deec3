"""The read API: answers only to a read (or admin) key, as every endpoint that reads data."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from parcours.analytics.stages.overview import store_stats
from parcours.errors import ParcoursError
from parcours.journey.profiles import customer_profile
from parcours.jsonable import plain, records
from parcours.server.auth import require
from parcours.server.routes.collect import CollectResult

router = APIRouter(tags=["query"], dependencies=[Depends(require("read"))])
REFUSED = {401: {"model": CollectResult, "description": "No key, or an unknown or revoked one."},
           403: {"model": CollectResult, "description": "Not a read key."}}


@router.get("/v1/stats", responses=REFUSED)
async def stats(request: Request) -> dict:
    """Store counts: events, customers, quarantined and unmapped events, events by name."""
    return plain(await request.app.state.collector.run_db(store_stats))


@router.get("/v1/customers/{customer_id}", responses={**REFUSED, 404: {"description": "No such customer."}})
async def customer(request: Request, customer_id: str) -> JSONResponse:
    """One customer: stitched identities and the timeline of touchpoints."""

    def profile(store):
        p = customer_profile(store, customer_id)
        return {**plain(p.summary()), "identities": records(p.identities), "timeline": records(p.timeline)}

    try:
        body = await request.app.state.collector.run_db(profile)
    except ParcoursError as e:
        return JSONResponse({"success": False, "errors": [{"path": "customer_id", "message": str(e)}]}, 404)
    return JSONResponse(json.loads(json.dumps(body, default=str)))
