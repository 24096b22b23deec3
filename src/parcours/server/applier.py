"""Moving acknowledged events from the write-ahead log into the store, in batches.

Events are loaded through ``parcours.ingest.import_file`` (the same validation,
quarantine and message-id deduplication as a file import) from a Parquet staging file
built straight from the records in memory, one per source: ``events.source`` (and the
quarantine's source) is the write key's source, not the staging file, and
``events.received_at`` is when the server received the request, carried in each
record. The staging file keeps the log's order, so the importer's arrival sequence
(``events.arrival_seq``, what orders same-timestamp events) is the order of arrival: each
source's events in their order, sources in the order their first event arrived, later
applications after earlier ones. Applying twice is harmless (message ids dedupe), so the applied position is
recorded after the load and the stitching: a crash in between replays a little, never loses or
doubles anything.

In the server an application is two steps on the store's thread, loading then stitching, and
the live webhook triggers look in between when the batch links no identifiers (``links``):
then stitching changes no customer (a customer known by one identifier is that identifier,
stitched or not), so the webhook need not wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from parcours.ingest import import_file
from parcours.server.wal import Position, read_from, remove_applied
from parcours.store.store import Store, utcnow

log = logging.getLogger("parcours.server")
REPLAY_CHUNK = 50_000
#: after an application that took t seconds, wait PACING * t more before the next one, while
#: a backlog builds (``Applier.pace_events`` / ``pace_bytes``)
PACING = 2.0
#: the event row's fields (``payload.to_row``), as staging columns
COLUMNS = ("message_id", "type", "event", "timestamp", "received_at", "user_id", "anonymous_id", "previous_id",
           "channel", "utm_source", "utm_medium", "utm_campaign", "properties", "context")
JSON_COLUMNS = ("properties", "context")


def staging_table(rows: list[dict]) -> pa.Table:
    """The rows as text columns (properties and context as JSON text, as a file would hold them)."""
    data = {}
    for col in COLUMNS:
        values = [r.get(col) for r in rows]
        if col in JSON_COLUMNS:
            values = [None if v is None else orjson.dumps(v).decode() for v in values]
        data[col] = pa.array(values, pa.string())
    return pa.table(data)


def applied_position(store: Store) -> Position:
    row = store.execute("SELECT segment, offset_bytes FROM collector_wal").fetchone()
    return Position(row[0], row[1]) if row else Position(0, 0)


def links(records: list[dict], traits: list[str]) -> bool:
    """Whether any record may link identifiers (what stitching acts on), judged from the records alone.

    A link is an event with a user id and an anonymous id, an alias's previous id, or a
    configured identity trait in its properties or its context's traits: the rules of
    ``parcours.identity.stitch`` (``_identifiers_sql``), erring towards "may link".
    """
    for r in records:
        e = r["e"]
        if e.get("previous_id") is not None or (e.get("user_id") is not None and e.get("anonymous_id") is not None):
            return True
        props = e.get("properties") or {}
        context_traits = (e.get("context") or {}).get("traits")
        for t in traits:
            if props.get(t) is not None or (isinstance(context_traits, dict) and context_traits.get(t) is not None):
                return True
    return False


def apply_records(store: Store, directory: Path, records: list[dict], pos: Position) -> int:
    """Load WAL records into the store, stitch, record ``pos`` as applied, drop finished segments."""
    loaded = load_records(store, directory, records)
    finish(store, directory, pos)
    return loaded


def load_records(store: Store, directory: Path, records: list[dict]) -> int:
    """Import WAL records into the store, one staging file per source, unstitched; returns how many loaded."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_source[r["s"]].append(r["e"])
    staging = directory / "apply"
    staging.mkdir(exist_ok=True)
    loaded = 0
    for source, rows in by_source.items():
        path = staging / f"{source}.parquet"
        pq.write_table(staging_table(rows), path, compression="none")
        try:
            loaded += import_file(store, path, fmt="parquet", stitch=False, source=source,
                                  received_at="received_at", max_quarantined=None).loaded
        finally:
            path.unlink(missing_ok=True)
    return loaded


def finish(store: Store, directory: Path, pos: Position) -> None:
    """Stitch what is loaded and not stitched yet, then record ``pos`` as applied."""
    from parcours.identity import stitch

    stitch(store)  # nothing to do (one query) when every batch is stitched already
    with store.transaction(changes_data=False):  # bookkeeping: no analysis reads it
        store.execute("DELETE FROM collector_wal")
        store.execute("INSERT INTO collector_wal VALUES (?, ?, ?)", [pos.segment, pos.offset, utcnow()])
    remove_applied(directory, pos)


def replay(store: Store, directory: Path) -> int:
    """Apply what the log holds beyond the recorded position (at start, before serving)."""
    chunk: list[dict] = []
    last: Position | None = None
    total = 0
    for pos, record in read_from(directory, applied_position(store)):
        chunk.append(record)
        last = pos
        if len(chunk) >= REPLAY_CHUNK:
            total += apply_records(store, directory, chunk, last)
            chunk = []
    if chunk and last:
        total += apply_records(store, directory, chunk, last)
    return total


class Applier:
    """Applies durable records in the background, every ``interval`` seconds at most."""

    def __init__(self, store: Store, directory: Path, db: ThreadPoolExecutor, interval: float = 0.25,
                 pace_events: int = 0, pace_bytes: int = 0):
        self.store = store
        self.dir = directory
        self.db = db
        self.interval = interval
        #: pace (``PACING``) only while the backlog holds at least this many events or bytes (0: always)
        self.pace_events = pace_events
        self.pace_bytes = pace_bytes
        #: the events and log bytes the last application took
        self._last_taken = (0, 0)
        self._pending: list[tuple[Position, list[dict], int]] = []
        self._event = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.queue_depth = 0
        #: the backlog's size in the log's bytes (what ``Collector.backlog_full`` bounds)
        self.queue_bytes = 0
        #: events per second of the last application, for ``Retry-After``
        self.last_rate: float | None = None
        #: awaited once per application, with the new events in the store: before stitching when
        #: the batch links no identifiers, after it otherwise (the live webhook triggers)
        self.on_loaded: Callable[[], Awaitable[None]] | None = None
        self.applied = 0
        self.last_apply: datetime | None = None
        self.last_error: str | None = None

    def add(self, pos: Position, records: list[dict], nbytes: int = 0) -> None:
        self._pending.append((pos, records, nbytes))
        self.queue_depth += len(records)
        self.queue_bytes += nbytes
        self._event.set()

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the backlog over the last application's rate."""
        rate = self.last_rate or 1000.0
        return max(1, min(30, math.ceil(self.queue_depth / rate)))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._event.wait()
            await asyncio.sleep(self.interval)
            self._event.clear()
            started = loop.time()
            try:
                await self.flush()
            except Exception as e:  # the records stay in the WAL and are retried
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("applying the write-ahead log failed; will retry")
                await asyncio.sleep(1.0)
                self._event.set()
            # Pacing: an application has a fixed cost (a few dozen DuckDB statements and
            # commits, then stitching) of about 0.1 s of CPU whatever its size; under sustained
            # load, waiting in proportion to the last one lets more events share that cost and
            # keeps the applier busy at most a third of the time, so acknowledging keeps the CPU.
            # Only while a backlog builds: below it, waiting would only delay the events (and
            # their webhooks) by twice an application's time.
            if self.backlog_building():
                await asyncio.sleep(PACING * (loop.time() - started))

    def backlog_building(self) -> bool:
        """Whether the backlog, now or as the last application took it, reached the size where the applier paces.

        The last application counts too: under overload it takes the whole backlog, and the
        collector refuses events meanwhile, so what waits after it is small, yet the load is not.
        """
        events, nbytes = self._last_taken
        return (max(self.queue_depth, events) >= self.pace_events
                or max(self.queue_bytes, nbytes) >= self.pace_bytes)

    async def flush(self) -> None:
        """Apply everything acknowledged so far (the GDPR and admin endpoints call this first)."""
        async with self._lock:
            await self._apply_pending()

    @contextlib.asynccontextmanager
    async def paused(self):
        """Apply everything acknowledged so far, then apply nothing more until the block ends.

        The store is lent to another process inside the block; acknowledged events wait in
        the log (and in ``_pending``) meanwhile.
        """
        async with self._lock:
            await self._apply_pending()
            yield

    async def _apply_pending(self) -> None:
        group, self._pending = self._pending, []
        if not group:
            return
        records = [r for _, rs, _ in group for r in rs]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            linked = await loop.run_in_executor(self.db, self._load, records)
            if not linked:
                await self._loaded()
            await loop.run_in_executor(self.db, finish, self.store, self.dir, group[-1][0])
            if linked:
                await self._loaded()
        except BaseException:
            self._pending = group + self._pending
            raise
        self.last_rate = len(records) / max(loop.time() - started, 1e-3)
        self._last_taken = (len(records), sum(n for _, _, n in group))
        self.queue_depth -= self._last_taken[0]
        self.queue_bytes -= self._last_taken[1]
        self.applied += len(records)
        self.last_apply = datetime.now(UTC)
        self.last_error = None

    def _load(self, records: list[dict]) -> bool:
        """On the store's thread: load the records; whether they may link identifiers."""
        load_records(self.store, self.dir, records)
        return links(records, self.store.config.identity.traits)

    async def _loaded(self) -> None:
        if self.on_loaded is not None:
            await self.on_loaded()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
