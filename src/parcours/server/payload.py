"""Segment-compatible messages: validation, clock-skew correction, and the event row.

A message is checked with pydantic (types) and then by rule (ids, names, time); every
problem is reported with the path of the field, e.g. ``batch[3].userId``. A valid
message becomes one flat event row in the importer's field names, which is what the
write-ahead log holds and what ``parcours.ingest`` loads.

Mapping (documented in docs/collector.md):

* ``track``: event = ``event``; ``page``/``screen``: event = ``"page"``/``"screen"``,
  the page or screen ``name`` (and ``category``) go to properties.name/category;
  ``identify``/``group``: event = the type, ``traits`` become properties (and
  ``groupId`` properties.group_id); ``alias``: ``previousId`` is linked to ``userId``.
* UTM: ``context.campaign`` source/medium/name -> utm_source/utm_medium/utm_campaign.
* channel: the message's ``channel`` or ``context.channel``, else web for pages and
  app for screens.
* timestamp: Segment's clock-skew correction, ``receivedAt - (sentAt - timestamp)``,
  when the client sends ``sentAt``; the receive time when it sends no timestamp.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from parcours.server.privacy import PrivacyPolicy

MessageType = Literal["track", "page", "screen", "identify", "alias", "group"]
Id = StrictStr | StrictInt


class Message(BaseModel):
    """One Segment message; unknown keys are allowed and ignored, as Segment does.

    As the Segment spec says, every message needs ``userId`` or ``anonymousId`` (the schema's
    ``anyOf``); one without either is refused alone, with a per-message error.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    })

    type: MessageType | None = None
    messageId: Id | None = Field(None, description="Idempotence key: a retried message is stored once.")
    userId: Id | None = None
    anonymousId: Id | None = None
    previousId: Id | None = None
    groupId: Id | None = None
    event: StrictStr | None = None
    name: StrictStr | None = None
    category: StrictStr | None = None
    channel: StrictStr | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None


class Batch(BaseModel):
    """``POST /v1/batch``: many messages, each with its ``type``."""

    model_config = ConfigDict(extra="allow")

    batch: list[Any]
    sentAt: datetime | None = None
    context: dict[str, Any] | None = None


@dataclass
class Problem:
    path: str
    message: str

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


def _loc(prefix: str, loc: tuple) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(dt: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z (``isoformat`` is much cheaper than ``strftime``)."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


@dataclass
class Limits:
    """The documented bounds (docs/collector.md, "Limits"): a message over one is refused alone.

    ``max_depth``, ``max_keys`` and ``max_string`` are checked on the raw JSON before anything
    serializes it again (the message id hash, the write-ahead log): a message nested 254 levels
    deep once broke both and cost its batch-mates a 500.
    """

    max_body_bytes: int = 1 << 20
    max_batch: int = 2500
    max_future: timedelta = timedelta(hours=24)
    max_id_length: int = 512
    max_depth: int = 32
    max_keys: int = 2000
    max_string: int = 32 * 1024
    max_event_bytes: int = 64 * 1024


def shape_problem(raw: dict, limits: Limits) -> str | None:
    """Why this raw message is over a bound (depth, key count, string length, size), or None.

    An explicit stack of containers, not recursion, so no nesting depth can raise here;
    objects' keys and arrays' items both count as keys. Leaves are measured in place (this
    runs for every message: a few microseconds for a typical one).
    """
    max_string, max_depth = limits.max_string, limits.max_depth
    stack: list[tuple[Any, int]] = [(raw, 1)]
    keys = size = 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return f"nests more than {max_depth} levels deep"
        keys += len(node)
        if keys > limits.max_keys:
            return f"more than {limits.max_keys} keys and array items; at most {limits.max_keys}"
        if type(node) is dict:
            for k in node:
                if len(k) > max_string:
                    return f"a key of {len(k)} characters; at most {max_string}"
                size += len(k) + 3
            values: Any = node.values()
        else:
            values = node
        for v in values:
            t = type(v)
            if t is str:
                if len(v) > max_string:
                    return f"a string of {len(v)} characters; at most {max_string}"
                size += len(v) + 2
            elif t is dict or t is list:
                stack.append((v, depth + 1))
            else:
                size += 8
    if size > limits.max_event_bytes:
        return f"about {size} bytes as JSON; at most {limits.max_event_bytes}"
    return None


def _rule_problems(m: Message, kind: str, prefix: str, limits: Limits) -> list[Problem]:
    p: list[Problem] = []

    def at(field: str) -> str:
        return f"{prefix}.{field}" if prefix else field

    for field in ("messageId", "userId", "anonymousId", "previousId", "groupId"):
        v = getattr(m, field)
        if isinstance(v, str) and (not v.strip() or len(v) > limits.max_id_length):
            p.append(Problem(at(field), f"must be a non-empty string of at most {limits.max_id_length} characters"))
    if kind == "alias":
        if m.userId is None:
            p.append(Problem(at("userId"), "alias needs userId (the id the previous id becomes)"))
        if m.previousId is None:
            p.append(Problem(at("previousId"), "alias needs previousId"))
    elif m.userId is None and m.anonymousId is None:
        p.append(Problem(at("userId"), "missing userId and anonymousId (at least one is needed)"))
    if kind == "track" and not (m.event and m.event.strip()):
        p.append(Problem(at("event"), "track needs an event name"))
    if kind == "group" and m.groupId is None:
        p.append(Problem(at("groupId"), "group needs groupId"))
    return p


def parse_message(
    raw: Any, kind: str | None, received_at: datetime, limits: Limits, prefix: str = "",
    batch_sent_at: datetime | None = None,
) -> tuple[Message | None, datetime | None, list[Problem]]:
    """Validate one message; returns it, its corrected UTC timestamp, and its problems."""
    if not isinstance(raw, dict):
        return None, None, [Problem(prefix or "body", "must be a JSON object")]
    over = shape_problem(raw, limits)
    if over is not None:
        return None, None, [Problem(prefix or "body", f"the message is over a limit: {over}")]
    try:
        m = Message.model_validate(raw)
    except ValidationError as e:
        return None, None, [Problem(_loc(prefix, err["loc"]), err["msg"]) for err in e.errors()]
    kind = kind or m.type
    if kind is None:
        return None, None, [Problem(f"{prefix}.type" if prefix else "type", "missing type (track, page, ...)")]
    if m.type is not None and m.type != kind:
        return None, None, [Problem(f"{prefix}.type" if prefix else "type", f"is {m.type!r} on the /v1/{kind} endpoint")]
    m.type = kind
    problems = _rule_problems(m, kind, prefix, limits)
    ts = m.timestamp or m.originalTimestamp
    sent = m.sentAt or batch_sent_at
    try:
        if ts is None:
            when = received_at
        elif sent is not None:
            when = received_at - (_utc(sent) - _utc(ts))
        else:
            when = _utc(ts)
    except OverflowError:  # e.g. year 1 with a negative offset, or sentAt and timestamp 9998 years apart
        problems.append(Problem(f"{prefix}.timestamp" if prefix else "timestamp",
                                "out of range once corrected to UTC (with sentAt for clock skew)"))
        return None, None, problems
    if when > received_at + limits.max_future:
        problems.append(Problem(
            f"{prefix}.timestamp" if prefix else "timestamp",
            f"{_iso(when)} is more than {limits.max_future} in the future",
        ))
    if when.year < 1970:
        problems.append(Problem(f"{prefix}.timestamp" if prefix else "timestamp", f"{_iso(when)} is before 1970"))
    return (None if problems else m), when, problems


def message_id(m: Message, source: str) -> str:
    """The client's messageId, else a hash of the message: a retried message keeps its id."""
    if m.messageId is not None:
        return str(m.messageId)
    body = m.model_dump(mode="json", exclude={"sentAt"}, exclude_none=True)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "h-" + hashlib.sha256(f"{source}\n{text}".encode()).hexdigest()[:32]


def to_row(m: Message, when: datetime, source: str, privacy: PrivacyPolicy, client_ip: str | None,
           batch_context: dict | None = None, received_iso: str | None = None) -> dict | None:
    """The event row in importer field names, or None when consent was refused.

    ``received_iso`` (when the request arrived, ``iso(received_at)``) travels with the row through the log, so
    events.received_at is the receive time, not the time the log was applied.
    """
    context = {**(batch_context or {}), **(m.context or {})}
    if privacy.refused(context, m.properties):
        return None
    context = privacy.scrub_context(context, client_ip)
    kind = m.type
    props: dict[str, Any] = dict(m.properties or {})
    if kind in ("identify", "group"):
        props = {**props, **(m.traits or {})}
        if kind == "group":
            props["group_id"] = str(m.groupId)
        if m.traits is None and "traits" in context and isinstance(context["traits"], dict):
            props = {**context["traits"], **props}
        event = kind
    elif kind in ("page", "screen"):
        for key in ("name", "category"):
            if getattr(m, key) is not None:
                props.setdefault(key, getattr(m, key))
        event = kind
    elif kind == "alias":
        event = "alias"
    else:
        event = m.event.strip()
    campaign = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
    channel = m.channel or _str(context.get("channel")) or {"page": "web", "screen": "app"}.get(kind)
    return {
        "message_id": message_id(m, source),
        "type": kind,
        "event": event,
        "timestamp": _iso(when),
        "received_at": received_iso or _iso(now_utc()),
        "user_id": _str(m.userId),
        "anonymous_id": _str(m.anonymousId),
        "previous_id": _str(m.previousId),
        "channel": channel,
        "utm_source": _str(campaign.get("source")),
        "utm_medium": _str(campaign.get("medium")),
        "utm_campaign": _str(campaign.get("name") or campaign.get("campaign")),
        "properties": props,
        "context": context,
    }


iso = _iso


def now_utc() -> datetime:
    return datetime.now(UTC)
