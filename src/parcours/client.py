"""A tiny Python client for the parcours collector (any Segment-compatible endpoint).

    from parcours.client import Client
    with Client("http://127.0.0.1:8000", write_key) as c:
        c.track("user-1", "purchase", {"revenue": 42})
        c.identify("user-1", {"email": "ann@example.com"})
    # leaving the block sends what is queued; a 200 means the events are durable

Messages are queued and sent as one ``/v1/batch`` per ``flush`` (or every ``batch_size``
messages); each carries a messageId, so resending after a network error stores nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx


class CollectorError(Exception):
    """The collector refused a batch; ``response`` holds its JSON answer."""

    def __init__(self, status: int, response: Any):
        super().__init__(f"collector answered {status}: {response}")
        self.status = status
        self.response = response


class Client:
    def __init__(self, url: str, write_key: str, batch_size: int = 100, timeout: float = 10.0, retries: int = 3):
        self._http = httpx.Client(base_url=url.rstrip("/"), auth=(write_key, ""), timeout=timeout)
        self.batch_size = batch_size
        self.retries = retries
        self._queue: list[dict] = []

    def _add(self, message: dict) -> None:
        now = datetime.now(UTC).isoformat()
        message.setdefault("messageId", str(uuid.uuid4()))
        message.setdefault("timestamp", now)
        self._queue.append(message)
        if len(self._queue) >= self.batch_size:
            self.flush()

    def track(self, user_id: str | None, event: str, properties: dict | None = None,
              anonymous_id: str | None = None, **extra: Any) -> None:
        self._add({"type": "track", "userId": user_id, "anonymousId": anonymous_id, "event": event,
                   "properties": properties or {}, **extra})

    def page(self, user_id: str | None, name: str | None = None, properties: dict | None = None,
             anonymous_id: str | None = None, **extra: Any) -> None:
        self._add({"type": "page", "userId": user_id, "anonymousId": anonymous_id, "name": name,
                   "properties": properties or {}, **extra})

    def identify(self, user_id: str, traits: dict | None = None, anonymous_id: str | None = None, **extra: Any) -> None:
        self._add({"type": "identify", "userId": user_id, "anonymousId": anonymous_id, "traits": traits or {}, **extra})

    def alias(self, previous_id: str, user_id: str, **extra: Any) -> None:
        self._add({"type": "alias", "previousId": previous_id, "userId": user_id, **extra})

    def flush(self) -> dict | None:
        """Send everything queued; returns the collector's answer (raises CollectorError on a 4xx)."""
        if not self._queue:
            return None
        batch = [{k: v for k, v in m.items() if v is not None} for m in self._queue]
        body = {"batch": batch, "sentAt": datetime.now(UTC).isoformat()}
        for attempt in range(self.retries + 1):
            try:
                r = self._http.post("/v1/batch", json=body)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                continue
            if r.status_code >= 500 and attempt < self.retries:
                continue
            if r.status_code != 200:
                raise CollectorError(r.status_code, r.json() if r.content else None)
            self._queue.clear()
            return r.json()
        return None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
