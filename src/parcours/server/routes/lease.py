"""``/internal/store/leases``: other processes borrow the store, in turn (``parcours.store.sharing``).

Only a process that can read the server's claim file (mode 0600, beside the store) knows
the key these endpoints ask for; a server started without a claim (tests, embedding)
lends nothing.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from parcours.store.sharing import KEY_HEADER, LEASES_PATH

router = APIRouter(tags=["internal"], include_in_schema=False)


class LeaseRequest(BaseModel):
    pid: int = Field(gt=0)
    command: str = Field(max_length=200)
    read_only: bool = False


def _lending(request: Request):
    collector = request.app.state.collector
    claim = collector.claim
    presented = request.headers.get(KEY_HEADER, "")
    if claim is None or not secrets.compare_digest(presented.encode(), claim.key.encode()):
        raise HTTPException(403, "this store's claim key is needed (read it from the claim file beside the store)")
    return collector.lending


def _lease(request: Request, lease_id: str):
    lease = _lending(request).leases.get(lease_id)
    if lease is None:
        raise HTTPException(404, f"no lease {lease_id!r} (given back, or its process is gone)")
    return lease


@router.post(LEASES_PATH)
async def ask(request: Request, body: LeaseRequest) -> dict:
    lending = _lending(request)
    return lending.status(lending.ask(body.pid, body.command, body.read_only))


@router.get(LEASES_PATH + "/{lease_id}")
async def status(request: Request, lease_id: str, wait: float = 0) -> dict:
    """The lease's state; ``wait`` (at most 5 s) holds the answer until the state changes."""
    lending, lease = _lending(request), _lease(request, lease_id)
    await lending.wait(lease, min(max(wait, 0), 5))
    return lending.status(lease)


@router.delete(LEASES_PATH + "/{lease_id}")
async def give_back(request: Request, lease_id: str) -> dict:
    lending, lease = _lending(request), _lease(request, lease_id)
    lending.give_back(lease)
    return {"id": lease_id, "state": "released"}
