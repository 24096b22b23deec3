"""The server's side of sharing its store: leases served one at a time (``parcours.store.sharing``).

A lease runs as one job on the store's thread: close the file, wait until the borrower
gives it back (or its process is gone), open the file again. Every other use of the
store (dashboard queries, the applier) queues behind that job, so nothing touches a
closed connection; the collector keeps acknowledging into its write-ahead log meanwhile.
Before a lease is granted every acknowledged event is applied, so the borrower reads a
current state; after it, the key ring is reloaded (the borrower may have created or
revoked keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import threading
from dataclasses import dataclass, field

from parcours.server.applier import applied_position
from parcours.server.keys import KeyRing
from parcours.server.wal import remove_applied
from parcours.store.sharing import pid_alive
from parcours.store.store import Store

#: how often a lent store checks whether its borrower's process still exists
PID_POLL_S = 0.25


@dataclass
class LeaseRecord:
    id: str
    number: int
    pid: int
    command: str
    read_only: bool
    state: str = "queued"  # queued -> applying -> granted -> done
    granted: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def set_state(self, state: str) -> None:
        self.state = state
        self.changed.set()


class Lending:
    """The leases of one collector's store, in the order they were asked for."""

    def __init__(self, collector):
        self.collector = collector
        self.leases: dict[str, LeaseRecord] = {}
        self._turn = asyncio.Lock()
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self.lent = 0

    def ask(self, pid: int, command: str, read_only: bool) -> LeaseRecord:
        lease = LeaseRecord(secrets.token_hex(8), next(self._numbers), pid, command, read_only)
        self.leases[lease.id] = lease
        task = asyncio.get_running_loop().create_task(self._serve(lease))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return lease

    def status(self, lease: LeaseRecord) -> dict:
        ahead = [other for other in self.leases.values() if other.number < lease.number and other.state != "done"]
        holder = next((o for o in ahead if o.state == "granted"), None)
        return {
            "id": lease.id, "state": lease.state, "ahead": len(ahead),
            "holder": {"pid": holder.pid, "command": holder.command} if holder else None,
            "backlog": self.collector.applier.queue_depth,
        }

    async def wait(self, lease: LeaseRecord, timeout: float) -> None:
        """Return when the lease changes state, or after ``timeout`` seconds."""
        lease.changed.clear()
        if lease.state in ("granted", "done"):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lease.changed.wait(), timeout)

    def give_back(self, lease: LeaseRecord) -> None:
        lease.released.set()

    async def _serve(self, lease: LeaseRecord) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with self._turn:
                if not pid_alive(lease.pid) or lease.released.is_set():
                    return
                lease.set_state("applying")
                # a new segment first: every earlier record is applied below and its file removed,
                # so a borrower's GDPR erase leaves no copy of the person in the log
                await self.collector.wal.rotate()
                async with self.collector.applier.paused():
                    log_dir = self.collector.wal_dir

                    def lend(store: Store) -> KeyRing:
                        remove_applied(log_dir, applied_position(store))
                        store.suspend()
                        loop.call_soon_threadsafe(lease.set_state, "granted")
                        try:
                            while not lease.released.wait(PID_POLL_S):
                                if not pid_alive(lease.pid):
                                    break
                        finally:
                            store.resume()
                        return KeyRing(store)

                    self.collector.keys = await self.collector.run_db(lend)
                    self.lent += 1
                self.collector.triggers.poke()  # the borrower may have imported events
        finally:
            lease.set_state("done")
            self.leases.pop(lease.id, None)

    async def close(self) -> None:
        for lease in list(self.leases.values()):
            lease.released.set()
        for task in list(self._tasks):
            task.cancel()
