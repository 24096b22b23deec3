"""The write-ahead log's writer: group commit of accepted events (``parcours.server.wal``).

While one write+fsync runs, new requests queue up; the next round writes all of them with a
single fsync, so many requests share one disk flush and throughput grows with concurrency.
Each acknowledged record is handed on (``on_durable``) with its position in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson

from parcours.server.wal import SEGMENT_BYTES, Position, open_segment, segments


class WriteAheadLog:
    """Appends batches of records with group commit; one segment file is open at a time."""

    def __init__(self, directory: Path, on_durable: Callable[[Position, list[dict], int], None],
                 segment_bytes: int = SEGMENT_BYTES):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.on_durable = on_durable
        self.segment_bytes = segment_bytes
        existing = segments(directory)
        self.segment = (existing[-1] + 1) if existing else 1  # always a fresh segment after a start
        self._file = open_segment(directory, self.segment)
        self._offset = 0
        self._pending: list[tuple[bytes, list[dict], asyncio.Future]] = []
        self._wakeup = asyncio.Event()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal")
        self._task: asyncio.Task | None = None
        self.last_commit: datetime | None = None
        self.commits = 0
        self._rotate_requested = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def append(self, records: list[dict]) -> None:
        """Return once ``records`` are fsync'd (raises if the disk write failed)."""
        if not records:
            return
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((data, records, fut))
        self._wakeup.set()
        await fut

    async def rotate(self) -> int:
        """Start a new segment after the current round; returns the number of the closed one."""
        closed = self.segment
        await asyncio.get_running_loop().run_in_executor(self._io, self._rotate)
        return closed

    def _rotate(self) -> None:
        self._file.close()
        self.segment += 1
        self._file = open_segment(self.dir, self.segment)
        self._offset = 0

    def _write(self, data: bytes) -> Position:
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._offset += len(data)
        pos = Position(self.segment, self._offset)
        if self._offset >= self.segment_bytes:
            self._rotate()
        return pos

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            group, self._pending = self._pending, []
            if not group:
                continue
            try:
                pos = await loop.run_in_executor(self._io, self._write, b"".join(d for d, _, _ in group))
            except OSError as e:
                for _, _, fut in group:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            self.last_commit = datetime.now(UTC)
            self.commits += 1
            records = [r for _, rs, _ in group for r in rs]
            self.on_durable(pos, records, sum(len(d) for d, _, _ in group))
            for _, _, fut in group:
                if not fut.done():
                    fut.set_result(None)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._file.close()
        self._io.shutdown(wait=True)
