"""Whole groups out of a stream of key-sorted Arrow batches.

Both engines feed a kernel through this one helper: DuckDB over the batches of the
whole result, Spark over the batches of each partition inside ``mapInArrow``. A batch
boundary may cut a group in two; the trailing group is held back and joined to the
next batch, so the kernel only ever sees whole groups (NULL keys form one group).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc


class OutOfOrder(Exception):
    """Rows that were expected in order (``whole_groups(..., check=...)``) are not."""


def is_sorted(batch: pa.RecordBatch, columns: Sequence[str]) -> bool:
    """Whether ``batch`` is sorted ascending by ``columns`` (lexicographically; a NULL is never in order)."""
    n = batch.num_rows
    if n < 2:
        return True
    ordered = None
    for name in reversed(columns):  # built from the last column: a < b, or a = b and the rest in order
        col = batch.column(name)
        a, b = col.slice(0, n - 1), col.slice(1)
        ordered = pc.less_equal(a, b) if ordered is None else pc.or_(pc.less(a, b), pc.and_(pc.equal(a, b), ordered))
    return pc.all(pc.fill_null(ordered, False)).as_py()


def whole_groups(
    batches: Iterable[pa.RecordBatch], key: str, fn: Callable[[pa.RecordBatch], pa.Table],
    check: Sequence[str] = (),
) -> Iterator[pa.Table]:
    """Apply ``fn`` to runs of whole groups of key-sorted ``batches``; yield its tables.

    With ``check`` (the columns the rows should be sorted by), each batch is verified before
    ``fn`` sees it, the boundary with the previous batch included, and ``OutOfOrder`` is
    raised at the first row out of order: for input whose order is expected, not enforced.
    """
    carry: pa.RecordBatch | None = None
    for batch in batches:
        if carry is not None and carry.num_rows:
            batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
        if batch.num_rows == 0:
            continue
        if check and not is_sorted(batch, check):
            raise OutOfOrder(f"rows not sorted by {', '.join(check)}")
        keys = batch.column(key)
        last = keys[batch.num_rows - 1]
        # the trailing group may continue in the next batch: hold it back
        same = pc.is_null(keys) if not last.is_valid else pc.fill_null(pc.equal(keys, last), False)
        cut = batch.num_rows - pc.sum(same).as_py()
        carry = batch.slice(cut)
        if cut:
            yield fn(batch.slice(0, cut))
    if carry is not None and carry.num_rows:
        yield fn(carry)


def prefetched(batches: Iterable[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """``batches``, read ahead by a thread, so the engine produces the next while a kernel runs.

    The kernels release the GIL, and so does DuckDB while it fetches: on a sorted scan the
    two overlap instead of taking turns. At most ``depth`` batches wait in memory. Closing the
    iterator early (an error, ``OutOfOrder``) stops the reader and waits for it, so the caller
    may use the same connection again as soon as this returns.

    The reader closes ``batches`` itself before it ends, on every path. Left open, an
    abandoned source (DuckDB's streaming result) was released whenever the garbage collector
    got to it: possibly in another thread, while the next query ran on the same connection,
    which now and then ended a run in a traceback (issue 15).
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    source = iter(batches)

    def read() -> None:
        try:
            for batch in source:
                if not put(batch):
                    return
            put(end)
        except BaseException as e:  # handed to the consumer, raised there
            put(e)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                try:
                    close()  # here, in this thread, before the consumer goes on
                except Exception as e:  # noqa: BLE001 - a failure to release is reported, not lost
                    put(e)

    reader = threading.Thread(target=read, name="parcours-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
