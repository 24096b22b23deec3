"""Whole groups out of a stream of key-sorted Arrow batches.

Both engines feed a kernel through this one helper: DuckDB over the batches of the
whole result, Spark over the batches of each partition inside ``mapInArrow``. A batch
boundary may cut a group in two; the trailing group is held back and joined to the
next batch, so the kernel only ever sees whole groups (NULL keys form one group).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc


def whole_groups(
    batches: Iterable[pa.RecordBatch], key: str, fn: Callable[[pa.RecordBatch], pa.Table]
) -> Iterator[pa.Table]:
    """Apply ``fn`` to runs of whole groups of key-sorted ``batches``; yield its tables."""
    carry: pa.RecordBatch | None = None
    for batch in batches:
        if carry is not None and carry.num_rows:
            batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
        if batch.num_rows == 0:
            continue
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
