"""``POST /v1/track|page|screen|identify|alias|group|batch``: the Segment-compatible collector.

A 200 means durable: the accepted events are in the fsync'd write-ahead log. In a
batch, valid events are accepted and invalid ones listed by index with their
problems; a request in which nothing is valid gets a 400.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from parcours.server.auth import check, presented_key
from parcours.server.payload import Batch, Message, Problem, iso, now_utc, parse_message, to_row

router = APIRouter(tags=["collect"])
KINDS = ("track", "page", "screen", "identify", "alias", "group")


class ProblemOut(BaseModel):
    path: str
    message: str


class Rejected(BaseModel):
    index: int
    errors: list[ProblemOut]


class CollectResult(BaseModel):
    success: bool
    accepted: int = 0
    not_consented: int = 0
    rejected: list[Rejected] = []
    errors: list[ProblemOut] = []


class TooLarge(BaseModel):
    success: bool
    errors: list[ProblemOut]
    limit: int


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": CollectResult, "description": "Nothing valid: each problem named by path."},
    401: {"model": CollectResult, "description": "No write key, or an unknown or revoked one."},
    403: {"model": CollectResult, "description": "The key is not a write key."},
    413: {"model": TooLarge, "description": "The body is larger than the limit (given in bytes)."},
}


def _body(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _bad(problems: list[Problem], status: int = 400, **extra) -> JSONResponse:
    return JSONResponse({"success": False, "errors": [p.as_dict() for p in problems], **extra}, status_code=status)


async def read_json(request: Request, limit: int) -> tuple[Any, JSONResponse | None]:
    """The parsed body, or the 4xx answer saying why it cannot be read."""

    def too_large(size: str) -> JSONResponse:
        return _bad([Problem("body", f"the body is {size} bytes; the limit is {limit} bytes")], 413, limit=limit)

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None, too_large(declared)
    chunks, size = [], 0
    gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    try:
        async for chunk in request.stream():
            if inflate is not None:
                chunk = inflate.decompress(chunk, limit + 1 - size)
            size += len(chunk)
            if size > limit:
                return None, too_large(f"more than {limit}")
            chunks.append(chunk)
    except zlib.error as e:  # a bad CRC or length trailer is found here too
        return None, _bad([Problem("body", f"not valid gzip: {e}")])
    if inflate is not None and not inflate.eof:  # the trailer (CRC, length) never came
        return None, _bad([Problem("body", "not valid gzip: the body is truncated (no CRC and length trailer)")])
    raw = b"".join(chunks)
    if not raw.strip():
        return None, _bad([Problem("body", "the body is empty; send a JSON object")])
    try:  # orjson refuses what could not be stored faithfully: NaN, Infinity, lone surrogates
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as e:
        return None, _bad([Problem("body", f"malformed JSON: {e}")])


async def collect(request: Request, kind: str, key_text: str | None) -> JSONResponse:
    c = request.app.state.collector
    received_at = now_utc()
    body, error = await read_json(request, c.limits.max_body_bytes)
    if error is not None:
        return error
    if key_text is None and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        key_text = body["writeKey"]
    key = check(request, key_text, "write")
    c.counters.requests += 1
    if c.backlog_full():  # nothing is acknowledged that the store cannot take in time: the client retries
        c.counters.busy += 1
        wait = c.applier.retry_after()
        return JSONResponse({"success": False, "errors": [{"path": "", "message": (
            f"the collector's backlog is full ({c.applier.queue_depth} events not yet stored); retry in {wait} s")}]},
            503, headers={"Retry-After": str(wait)})
    client_ip = request.client.host if request.client else None

    if kind == "batch":
        if not isinstance(body, dict):
            return _bad([Problem("body", "must be a JSON object with a batch list")])
        try:
            envelope = Batch.model_validate(body)
        except ValidationError as e:
            return _bad([Problem(".".join(str(x) for x in err["loc"]) or "body", err["msg"]) for err in e.errors()])
        if not envelope.batch:
            return _bad([Problem("batch", "the batch is empty")])
        if len(envelope.batch) > c.limits.max_batch:
            return _bad([Problem("batch", f"{len(envelope.batch)} messages; at most {c.limits.max_batch} per batch")])
        items = [(f"batch[{i}]", m, None) for i, m in enumerate(envelope.batch)]
        sent_at, batch_context = envelope.sentAt, envelope.context
    else:
        items = [("", body, kind)]
        sent_at, batch_context = None, None

    records, rejected, refused = [], [], 0
    received_iso = iso(received_at)
    for index, (prefix, raw, k) in enumerate(items):
        msg, when, problems = parse_message(raw, k, received_at, c.limits, prefix, sent_at)
        if problems:
            rejected.append({"index": index, "errors": [p.as_dict() for p in problems]})
            continue
        row = to_row(msg, when, key.source, c.privacy, client_ip, batch_context, received_iso)
        if row is None:
            refused += 1
        else:
            records.append({"s": key.source, "e": row})
    c.counters.received += len(items)
    c.counters.rejected += len(rejected)
    c.counters.not_consented += refused
    if records:
        await c.wal.append(records)
        c.counters.accepted += len(records)
    if len(rejected) == len(items):
        errors = [e for r in rejected for e in r["errors"]]
        return JSONResponse({"success": False, "accepted": 0, "rejected": rejected, "errors": errors}, 400)
    return JSONResponse({"success": True, "accepted": len(records), "not_consented": refused, "rejected": rejected})


def _endpoint(kind: str):
    async def endpoint(request: Request, key_text: str | None = Depends(presented_key)) -> JSONResponse:
        return await collect(request, kind, key_text)

    endpoint.__name__ = f"collect_{kind}"
    endpoint.__doc__ = (
        f"Record one `{kind}` message (Segment HTTP API)." if kind != "batch"
        else "Record many messages, each with its `type`; valid ones are accepted, invalid ones listed."
    )
    return endpoint


for _kind in KINDS:
    router.add_api_route(
        f"/v1/{_kind}", _endpoint(_kind), methods=["POST"], response_model=CollectResult,
        responses=RESPONSES, openapi_extra=_body(Message), summary=f"Collect a {_kind} message",
    )
router.add_api_route(
    "/v1/batch", _endpoint("batch"), methods=["POST"], response_model=CollectResult, responses=RESPONSES,
    openapi_extra=_body(Batch), summary="Collect a batch of messages",
)
