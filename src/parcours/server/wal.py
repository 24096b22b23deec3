"""The write-ahead log: accepted events are on disk (fsync'd) before the client hears 200.

Events are appended as JSON lines to numbered segment files beside the store
(``shop.duckdb.collector-wal/00000001.jsonl``). Group commit: while one write+fsync runs,
new requests queue up; the next round writes all of them with a single fsync, so
many requests share one disk flush and throughput grows with concurrency.

Each acknowledged record is handed to the applier with its position (segment, end
offset); the store records how far the log has been applied, so a restart replays
exactly the tail. A torn last line (a crash mid-write, never acknowledged) is cut off.

This module is the log's files; the writer that appends to them (asyncio, a thread for the
fsyncs) is ``parcours.server.wal_writer``, so that every CLI command, which opens its store
through ``parcours.server.recovery`` and looks here for a log tail, loads neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    import orjson  # here: a log tail to read is rare, and every command opens its store through this module

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
