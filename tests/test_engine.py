"""The engine layer: map_groups hands every group to the kernel whole, whatever the batch size."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import load_events

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


def stored_table(store, sorted_: bool) -> None:
    order = "k, v" if sorted_ else "v % 7, k"
    store.con.execute(f"""
        CREATE TABLE t AS SELECT 'g' || lpad(CAST(i % 500 AS VARCHAR), 3, '0') AS k, i AS v
        FROM range(20000) r(i) ORDER BY {order}
    """)


@pytest.mark.parametrize("sorted_", [True, False])
def test_stored_order_gives_the_sorted_result_whether_or_not_it_holds(store, sorted_):
    # a table stored in key order is read without a sort; one that is not is caught and sorted
    stored_table(store, sorted_)
    queries: list[str] = []
    read = store.engine.batches
    store.engine.batches = lambda q, size: queries.append(q) or read(q, size)
    out = store.engine.map_groups("SELECT k, v FROM t ORDER BY k, v", "k", per_group([]), SCHEMA,
                                  batch_size=2048, stored_order="SELECT k, v FROM t")
    expected = store.con.execute("SELECT k, count(*), sum(v) FROM t GROUP BY k ORDER BY k").fetchall()
    got = sorted(zip(*(out.column(c).to_pylist() for c in ("k", "n", "total")), strict=True))
    assert got == expected
    # in order: one unsorted read; out of order: caught, then the sorted query
    assert queries == (["SELECT k, v FROM t"] if sorted_ else ["SELECT k, v FROM t", "SELECT k, v FROM t ORDER BY k, v"])


def test_order_check_is_lexicographic_and_rejects_nulls():
    from parcours.engine.groups import is_sorted

    def batch(k, v):
        return pa.RecordBatch.from_pydict({"k": k, "v": v})

    assert is_sorted(batch(["a", "a", "b"], [2, 3, 1]), ["k", "v"])
    assert is_sorted(batch(["a", "a"], [2, 2]), ["k", "v"])  # ties are in order
    assert not is_sorted(batch(["a", "a", "b"], [3, 2, 1]), ["k", "v"])
    assert not is_sorted(batch(["b", "a"], [1, 2]), ["k", "v"])
    assert not is_sorted(batch(["a", None], [1, 2]), ["k", "v"])
    assert is_sorted(batch(["b", "a"], [1, 2]), ["v"])


def test_funnel_reads_the_stored_journey_without_a_sort(store, tmp_path, monkeypatch):
    from parcours.analytics.funnels import query as funnel_query
    from parcours.analytics.funnels.funnel import funnel

    events = [{"user_id": f"u{i % 40}", "event": ("site_visit", "product_view", "purchase")[i % 3],
               "timestamp": f"2024-01-{1 + i % 20:02d}T{i % 24:02d}:00:00Z"} for i in range(600)]
    load_events(store, events, tmp_path)
    steps = ["site_visit", "product_view", "purchase"]
    used: list = []
    real = funnel_query.stored_order_query
    monkeypatch.setattr(funnel_query, "stored_order_query", lambda *a: used.append(real(*a)) or used[-1])
    stored = funnel(store, steps, window="3d")
    assert used and used[-1] is not None and used[-1].args.get("order") is None  # no final sort
    monkeypatch.setattr(funnel_query, "stored_order_query", lambda *a: None)
    assert stored.equals(funnel(store, steps, window="3d"))


def test_prefetched_keeps_order_passes_errors_and_stops_when_closed():
    import threading
    from contextlib import closing

    from parcours.engine.groups import prefetched

    batches = [pa.RecordBatch.from_pydict({"v": [i]}) for i in range(50)]
    assert [b.column("v")[0].as_py() for b in prefetched(iter(batches))] == list(range(50))

    def failing():
        yield batches[0]
        raise ValueError("disk gone")

    with pytest.raises(ValueError, match="disk gone"):
        list(prefetched(failing()))

    pulled = []

    def endless():
        for i in range(10**9):
            pulled.append(i)
            yield pa.RecordBatch.from_pydict({"v": [i]})

    with closing(prefetched(endless(), depth=2)) as rows:
        next(rows)
    # the reader thread has stopped and read at most a few batches ahead
    assert not any(t.name == "parcours-prefetch" for t in threading.enumerate())
    assert len(pulled) <= 5
