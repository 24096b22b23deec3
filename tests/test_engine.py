"""The engine layer: map_groups hands every group to the kernel whole, whatever the batch size."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

SCHEMA = pa.schema([("k", pa.string()), ("n", pa.int64()), ("total", pa.int64())])


def per_group(calls: list[list]):
    def fn(batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        calls.append(table.column("k").to_pylist())
        grouped = table.group_by("k", use_threads=False).aggregate([("v", "count"), ("v", "sum")])
        return pa.table({"k": grouped["k"], "n": grouped["v_count"], "total": grouped["v_sum"]})
    return fn


@pytest.mark.parametrize("batch_size", [2048, 5000, 100_000])
def test_groups_never_split_across_batches(store, batch_size):
    # groups of very different sizes, one larger than a batch, and rows with no key at all
    store.con.execute(
        """
        CREATE TABLE t AS
        SELECT CASE WHEN i % 97 = 0 THEN NULL WHEN i < 6000 THEN 'big' ELSE 'g' || (i * 7919 % 1300) END AS k,
               i AS v
        FROM range(30000) r(i)
        """
    )
    calls: list[list] = []
    query = "SELECT k, v FROM t ORDER BY k, v"
    out = store.engine.map_groups(query, "k", per_group(calls), SCHEMA, batch_size=batch_size)
    if batch_size < 30000:
        assert len(calls) > 1  # the test really crosses batch boundaries
    seen: dict = {}
    for i, keys in enumerate(calls):
        for key in set(keys):
            assert key not in seen, f"group {key!r} was split between calls {seen[key]} and {i}"
            seen[key] = i
    expected = store.con.execute("SELECT k, count(*), sum(v) FROM t GROUP BY k").fetchall()
    got = sorted(zip(*(out.column(c).to_pylist() for c in ("k", "n", "total")), strict=True),
                 key=lambda r: (r[0] is None, r[0] or ""))
    assert got == sorted(expected, key=lambda r: (r[0] is None, r[0] or ""))
    assert pc.sum(out.column("n")).as_py() == 30000


def test_empty_result_has_the_schema(store):
    store.con.execute("CREATE TABLE t (k VARCHAR, v BIGINT)")
    out = store.engine.map_groups("SELECT k, v FROM t ORDER BY k", "k", per_group([]), SCHEMA)
    assert out.num_rows == 0 and out.schema == SCHEMA


def test_df_arrow_scalar_agree(store):
    q = "SELECT 41 + 1 AS answer"
    assert store.engine.df(q)["answer"].tolist() == [42]
    assert store.engine.arrow(q).column("answer").to_pylist() == [42]
    assert store.engine.scalar(q) == 42
