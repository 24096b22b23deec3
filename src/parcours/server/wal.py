"""The write-ahead log: accepted events are on disk (fsync'd) before the client hears 200.

Events are appended as JSON lines to numbered segment files beside the store
(``shop.duckdb.collector-wal/00000001.jsonl``). Group commit: while one write+fsync runs,
new requests queue up; the next round writes all of them with a single fsync, so
many requests share one disk flush and throughput grows with concurrency.

Each acknowledged record is handed to the applier with its position (segment, end
offset); the store records how far the log has been applied, so a restart replays
exactly the tail. A torn last line (a crash mid-write, never acknowledged) is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

SEGMENT_BYTES = 64 << 20


@dataclass
class Position:
    segment: int
    offset: int


def wal_dir(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".collector-wal")  # DuckDB itself owns "<db>.wal"


def segments(directory: Path) -> list[int]:
    if not directory.exists():
        return []
    return sorted(int(p.stem) for p in directory.glob("*.jsonl") if p.stem.isdigit())


def segment_path(directory: Path, n: int) -> Path:
    return directory / f"{n:08d}.jsonl"


def read_from(directory: Path, start: Position) -> Iterator[tuple[Position, dict]]:
    """Every complete record at or after ``start``, with the position just after it.

    A final line without its newline, or one that is not JSON, was never acknowledged
    (the crash came before its fsync returned): the segment is cut back to before it.
    """
    for n in segments(directory):
        if n < start.segment:
            continue
        path = segment_path(directory, n)
        offset = start.offset if n == start.segment else 0
        with open(path, "rb+") as f:
            f.seek(offset)
            for line in f:
                end = offset + len(line)
                try:
                    if not line.endswith(b"\n"):
                        raise ValueError("torn line")
                    record = orjson.loads(line)
                except ValueError:  # orjson.JSONDecodeError is one
                    f.truncate(offset)
                    f.flush()
                    os.fsync(f.fileno())
                    break
                offset = end
                yield Position(n, offset), record


def sync_dir(directory: Path) -> None:
    """fsync the folder itself, so that a segment file just created (or removed) survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_segment(directory: Path, n: int):
    """Create segment ``n`` for appending; its directory entry is durable before any record is."""
    f = open(segment_path(directory, n), "ab")  # noqa: SIM115 - the log closes it
    sync_dir(directory)
    return f


def remove_applied(directory: Path, applied: Position, writing: bool = True) -> int:
    """Delete the segments whose every record is applied; returns how many.

    A segment before the applied one is done; so is the applied one when the position is
    at its end and no one appends to it any more (a later segment exists, or ``writing``
    is False: no server runs).
    """
    numbers = segments(directory)
    removed = 0
    for n in numbers:
        path = segment_path(directory, n)
        done = n < applied.segment or (
            n == applied.segment and (not writing or n != numbers[-1]) and path.stat().st_size <= applied.offset
        )
        if done:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        sync_dir(directory)
    return removed


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
