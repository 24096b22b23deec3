"""Webhook triggers while the server runs: evaluated as events are applied, delivered at once.

``parcours voc webhooks run`` is the manual step; while ``parcours serve`` runs nobody needs
it. Within every application of the collector's log (the applier awaits ``look`` as soon as the
events are in the store, before stitching them when they link no identifiers), after a lease
(whose borrower may have imported events), and at least every ``tick`` seconds (a cart's quiet
period ends with no new event), the journey file's ``[[webhooks]]`` are evaluated (``enqueue_webhooks``: an
occurrence is queued once, whatever the number of runs) and every due delivery is sent:
signed, retried with backoff, logged, exactly as the manual command does.

Each cycle looks only at the customers whose events arrived since the previous one: each
customer's live journey state (``parcours.journey.live_state``) is caught up on the customers
the new events (or a stitching run) changed, and records the data version it was computed at;
the triggers that only a new event can fire (``stage_entered``, ``moment_of_truth``,
``detractor``) are evaluated for the customers whose state is newer than the last cycle's
version, so a cycle costs what arrived, not the store's size. The first cycle looks at
everyone (as does a cycle after a write that rebuilds the state whole): the server runs it
before it accepts requests, so that building the live state and the derived tables
of a large store does not delay the first webhooks. Cart
abandonment depends on time, so it is evaluated over every customer (the events since the
live triggers started). Segment changes are evaluated for the changed customers too, and over
the whole store only when a membership may change without an event of the customer's (the
segment edited, new lead scores, and every ``SEGMENT_RECHECK_SECONDS`` for a rule counted back
from the store's latest event): see ``parcours.analytics.voc.webhooks._watch_scope``.

The HTTP posts run on their own threads and tasks, never on the store's: a slow receiver
delays only its own deliveries, not the applier or the dashboard. Looks take turns (a lock), and
a delivery being posted is not picked up again by the next look. Occurrences before the first time the
server ran with live triggers are not sent (the store keeps that time, so a restart resumes
where it stopped rather than replaying history); ``parcours voc webhooks run --since`` sends
older ones on request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from parcours.analytics.voc.webhooks import (
    due_deliveries,
    enqueue_webhooks,
    record_attempt,
    send,
    start_watching,
)
from parcours.journey.live_state import changed_since
from parcours.store.store import Store, utcnow

log = logging.getLogger("parcours.server")
LIVE_SINCE_META = "webhooks_live_since"


def live_since(store: Store) -> datetime:
    """When the store first ran with live triggers (set now if never): older occurrences are not sent."""
    since = store.get_meta(LIVE_SINCE_META)
    if since is None:
        since = utcnow().isoformat()
        store.set_meta(LIVE_SINCE_META, since)
    start_watching(store)
    return datetime.fromisoformat(since)


def _enqueue(store: Store, looked: int | None) -> tuple[list, dict, int]:
    """Queue new occurrences among the customers changed after data version ``looked`` (None: all).

    Returns the deliveries due now, the webhooks by name, and the data version looked at.
    """
    version = store.data_version()
    hooks = {h.name: h for h in store.config.webhooks}
    if not hooks:
        return [], {}, version
    enqueue_webhooks(store, since=live_since(store), customers=changed_since(store, looked))
    return due_deliveries(store, utcnow()), hooks, version


class LiveTriggers:
    def __init__(self, collector, tick: float = 2.0, timeout: float = 10.0):
        self.collector = collector
        self.tick = tick
        self.timeout = timeout
        self._wake = asyncio.Event()
        self._http = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhooks")
        self._task: asyncio.Task | None = None
        self._looking = asyncio.Lock()
        #: the deliveries being posted now (by id), and the tasks posting them
        self._posting: set[int] = set()
        self._posts: set[asyncio.Task] = set()
        self._last_look = float("-inf")
        self.sent = 0
        self.last_error: str | None = None
        #: the data version the last successful cycle looked at (None: look at every customer)
        self.looked: int | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def poke(self) -> None:
        """New events are in the store: evaluate the triggers now."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
            if self._wake.is_set() or loop.time() - self._last_look >= self.tick:
                # no timed look within ``tick`` of an application's: under load those look often
                # enough, and each look competes with the applier for the store's thread
                self._wake.clear()
                await self.look()

    async def look(self) -> None:
        """Queue new occurrences and start posting what is due; the posts go on without waiting.

        Never raises: a bad webhook definition must not stop the server or its applier; it is logged.
        """
        self._last_look = asyncio.get_running_loop().time()
        try:
            due, hooks = await self._due()
            self.last_error = None
        except Exception as e:
            self.last_error = f"{type(e).__name__}: {e}"
            log.exception("live webhook triggers failed; will retry")
            return
        if due:
            task = asyncio.get_running_loop().create_task(self._post(due, hooks))
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)

    async def _due(self) -> tuple[list, dict]:
        """Queue new occurrences; the due deliveries not being posted already (marked as being posted now)."""
        async with self._looking:
            due, hooks, self.looked = await self.collector.run_db(_enqueue, self.looked)
            due = [d for d in due if d[0] not in self._posting]
            self._posting.update(d[0] for d in due)
        return due, hooks

    async def _post(self, due: list, hooks: dict) -> None:
        if not due:
            return
        try:
            loop = asyncio.get_running_loop()
            answers = await asyncio.gather(*(
                loop.run_in_executor(self._http, send, hooks.get(d[1]), d, self.timeout) for d in due))

            def record(store: Store) -> None:
                for delivery, (code, error) in zip(due, answers, strict=True):
                    record_attempt(store, delivery, code, error, utcnow(), known=delivery[1] in hooks)

            await self.collector.run_db(record)
            self.sent += len(due)
        except Exception as e:  # not recorded: still pending, posted again by a later look
            self.last_error = f"{type(e).__name__}: {e}"
            log.exception("posting webhooks failed; will retry")
        finally:
            self._posting.difference_update(d[0] for d in due)

    async def close(self) -> None:
        for task in [self._task, *self._posts]:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._http.shutdown(wait=False)
