"""The running collector: the store it owns, its keys, log, applier and counters.

DuckDB allows one writer process, so while the server runs it owns the store; every
use of the connection goes through one worker thread (``db``), which keeps the
connection single-threaded without blocking the event loop.

That thread runs at a lower CPU priority (nice +10 on Linux), and so do DuckDB's own
worker threads, which are started from it when it opens the store: on a small machine
the applier and dashboard queries then yield the CPU to acknowledging requests, while
the applier still catches up whenever the load pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from parcours.server.applier import Applier, applied_position, replay
from parcours.server.keys import KeyRing
from parcours.server.lending import Lending
from parcours.server.payload import Limits
from parcours.server.privacy import IP_MODES, PrivacyPolicy
from parcours.server.triggers import LiveTriggers, live_since
from parcours.server.wal import remove_applied, segment_path, segments, wal_dir
from parcours.server.wal_writer import WriteAheadLog
from parcours.store.sharing import Claim
from parcours.store.store import Store, open_store

IP_SECRET_META = "collector_ip_secret"


@dataclass
class Counters:
    requests: int = 0
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    not_consented: int = 0
    busy: int = 0  #: requests answered 503 because the backlog was full


@dataclass
class Settings:
    ip_mode: str = "truncate"
    limits: Limits = field(default_factory=Limits)
    apply_interval: float = 0.25
    #: the applier's backlog (acknowledged, not yet in the store) at most this many events...
    max_backlog_events: int = 100_000
    #: ... and this many bytes of log; beyond either the collector answers 503 + Retry-After
    max_backlog_bytes: int = 256 << 20


def ip_secret(store: Store) -> bytes:
    """The store's key for hashing IP addresses, created on first use."""
    value = store.get_meta(IP_SECRET_META)
    if value is None:
        value = secrets.token_hex(32)
        store.set_meta(IP_SECRET_META, value)
    return bytes.fromhex(value)


DB_NICENESS = 10
#: the applier paces itself (``applier.PACING``) once its backlog reaches this share of its bound
PACE_SHARE = 0.1


def _lower_priority() -> None:
    """Make the calling thread (and the threads it starts) yield to the request handlers."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted: keep going
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + DB_NICENESS)


class Collector:
    def __init__(self, db_path: str | Path, settings: Settings, claim: Claim | None = None):
        if settings.ip_mode not in IP_MODES:
            raise ValueError(f"ip_mode {settings.ip_mode!r}: use one of {', '.join(IP_MODES)}")
        self.db_path = str(db_path)
        self.settings = settings
        self.limits = settings.limits
        self.counters = Counters()
        self.store: Store | None = None
        #: the claim file's contents when ``parcours serve`` claimed the store; None lends nothing
        self.claim = claim

    async def start(self) -> None:
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckdb", initializer=_lower_priority)
        loop = asyncio.get_running_loop()
        self.store = await loop.run_in_executor(self.db, open_store, self.db_path)
        self.wal_dir = wal_dir(self.db_path)
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        self.replayed = await self.run_db(replay, self.wal_dir)
        self.keys = await self.run_db(KeyRing)
        self.privacy = PrivacyPolicy(self.settings.ip_mode, await self.run_db(ip_secret))
        s = self.settings
        self.applier = Applier(self.store, self.wal_dir, self.db, s.apply_interval,
                               pace_events=max(1, int(PACE_SHARE * s.max_backlog_events)),
                               pace_bytes=max(1, int(PACE_SHARE * s.max_backlog_bytes)))
        self.triggers = LiveTriggers(self)
        await self.run_db(live_since)
        # the first look builds the live state (and the derived tables) of the whole store: done
        # before serving, so that the first webhooks do not wait for it
        await self.triggers.look()
        self.applier.on_loaded = self.triggers.look
        self.wal = WriteAheadLog(self.wal_dir, self.applier.add)
        self.wal.start()
        self.applier.start()
        self.lending = Lending(self)
        self.triggers.start()

    async def stop(self) -> None:
        self.applier.on_loaded = None  # the last application below is looked at by the next start
        await self.triggers.close()
        await self.lending.close()
        await self.wal.close()
        await self.applier.close()
        # every acknowledged event is in the store now: the log is not needed to start again
        await self.run_db(lambda store: remove_applied(self.wal_dir, applied_position(store), writing=False))
        await self.run_db(Store.close)
        self.db.shutdown(wait=True)

    async def run_db(self, fn, *args):
        """Run ``fn(store, *args)`` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self.db, fn, self.store, *args)

    async def settle(self) -> None:
        """Apply everything acknowledged, then delete every log segment that is fully applied.

        Called before erasing or exporting a person, so that neither misses events still in
        the log and no copy of erased events survives in a log file.
        """
        closed = await self.wal.rotate()  # every record of the closed segments is now with the applier
        await self.applier.flush()
        for n in segments(self.wal_dir):
            if n <= closed:
                segment_path(self.wal_dir, n).unlink(missing_ok=True)

    def backlog_full(self) -> bool:
        """Whether acknowledging more now would grow the backlog beyond its bounds."""
        a = self.applier
        return a.queue_depth >= self.settings.max_backlog_events or a.queue_bytes >= self.settings.max_backlog_bytes

    def metrics(self) -> dict:
        c = self.counters
        return {
            "requests": c.requests, "received": c.received, "accepted": c.accepted, "rejected": c.rejected,
            "not_consented": c.not_consented, "applied": self.applier.applied,
            "queue_depth": self.applier.queue_depth, "queue_bytes": self.applier.queue_bytes,
            "busy": c.busy, "wal_commits": self.wal.commits,
            "last_commit": self.wal.last_commit.isoformat() if self.wal.last_commit else None,
            "last_apply": self.applier.last_apply.isoformat() if self.applier.last_apply else None,
            "last_error": self.applier.last_error, "replayed_at_start": self.replayed,
            "webhook_attempts": self.triggers.sent, "webhook_error": self.triggers.last_error,
        }
