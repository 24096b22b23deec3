"""Benchmark: path flows and the directly-follows graph against a bare scan, pandas and pm4py.

Target (issue 4), on 10M events / 1M customers: ``flows`` and ``dfg`` within 3x of a bare
GROUP BY over the same columns of the same journey relation in the same engine, at least 10x
faster than a pandas implementation and than pm4py's ``discover_dfg`` on the same log, memory
under 8 GiB. Every figure is measured in this run; each method runs in its own fresh process
(``spawn``) so that its peak memory (max RSS) is its own.

The log is seeded: customers walk a Markov chain over events of the five-stages journey (about
``--events / --customers`` events each, minutes to days apart) and are loaded through the real
importer. Timings exclude the load. ``dfg``/``flows``/``bare`` run twice: first on the live
journey relation (``*_live``), then on the derived tables: the materialized journey table (which
``bare`` and ``pandas_store`` read) and the stored touchpoint sequence (which ``dfg`` and
``flows`` read), whose build times are printed on their own lines. ``pandas`` and ``pm4py`` get the log already in memory (a
DataFrame read from the same Parquet file, touchpoints attached, not timed), which favours
them; ``pandas_store`` starts where ``dfg`` starts, reading the journey relation from the store
(the materialized table, as ``dfg`` does). The pandas DFG counts edges only, while
``dfg`` also gives distinct customers, probabilities and median times.

    .venv/bin/python bench/paths_bench.py [--events 10000000] [--customers N (default events/10)] [--seed 1]
        [--rounds 3] [--skip pm4py]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Event names (each one maps to a touchpoint of the five-stages journey) and the chain they follow.
EVENTS = ("ad_click", "search_click", "site_visit", "product_view", "chat_message", "add_to_cart",
          "checkout_start", "purchase", "delivery", "newsletter_open")
NEXT = np.array([
    # ad  search site  prod  chat  cart  chk   buy   dlv   news
    [.10, .10, .60, .20, .00, .00, .00, .00, .00, .00],  # ad_click
    [.05, .10, .65, .20, .00, .00, .00, .00, .00, .00],  # search_click
    [.05, .05, .20, .50, .05, .15, .00, .00, .00, .00],  # site_visit
    [.03, .02, .30, .35, .05, .25, .00, .00, .00, .00],  # product_view
    [.00, .00, .40, .40, .10, .10, .00, .00, .00, .00],  # chat_message
    [.00, .00, .15, .20, .05, .10, .50, .00, .00, .00],  # add_to_cart
    [.00, .00, .05, .05, .05, .10, .05, .70, .00, .00],  # checkout_start
    [.00, .00, .10, .10, .00, .00, .00, .00, .80, .00],  # purchase
    [.00, .00, .20, .10, .10, .00, .00, .00, .00, .60],  # delivery
    [.05, .00, .30, .20, .00, .00, .00, .00, .00, .45],  # newsletter_open
])
FIRST = np.array([.4, .3, .2, .1, 0, 0, 0, 0, 0, 0])


def generate(events: int, customers: int, seed: int, path: Path) -> int:
    """Write the seeded log to Parquet (user_id, event, timestamp); return the number of events."""
    rng = np.random.default_rng(seed)
    lengths = 1 + rng.poisson(max(events / customers - 1, 0), customers)
    n = int(lengths.sum())
    owner = np.repeat(np.arange(customers), lengths)
    start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(n) - start
    state = np.empty(n, np.int8)
    cum = np.cumsum(NEXT, axis=1)
    state[pos == 0] = rng.choice(len(EVENTS), customers, p=FIRST)
    for k in range(1, int(pos.max()) + 1):  # one vectorised step per position, never per event
        at = np.flatnonzero(pos == k)
        prev = state[at - 1]
        state[at] = np.minimum((rng.random(len(at))[:, None] > cum[prev]).sum(axis=1), len(EVENTS) - 1)
    t0 = np.datetime64("2024-01-01T00:00:00", "s") + rng.integers(0, 300 * 86400, customers).astype("timedelta64[s]")
    gaps = np.where(rng.random(n) < 0.7, rng.exponential(300, n), rng.exponential(3 * 86400, n)).astype(np.int64) + 1
    gaps[pos == 0] = 0  # at least a second between a customer's events: no ties, one order for every tool
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(lengths) - lengths], lengths)
    ts = t0[owner] + offset.astype("timedelta64[s]")
    table = pa.table({
        "user_id": pa.array(np.char.add("u", owner.astype(str))),
        "event": pa.DictionaryArray.from_arrays(pa.array(state.astype(np.int32)), pa.array(EVENTS)).cast(pa.string()),
        "timestamp": pa.array(ts.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
    })
    pq.write_table(table, path)
    return n


# --- the methods, each run in a fresh process ------------------------------------------------------

def _ours(store, what: str) -> int:
    from parcours.analytics.filters import events_sql
    from parcours.analytics.paths.paths import dfg, flows

    if what == "dfg":
        return len(dfg(store))
    if what == "flows":
        return len(flows(store, None, 5))
    # the bare scan: one GROUP BY over the same columns of the same journey relation
    return len(store.engine.df(f"""
        SELECT customer_id, touchpoint, count(*) AS n, min(timestamp) AS first, max(message_id) AS m
        FROM ({events_sql(store)}) WHERE touchpoint IS NOT NULL GROUP BY customer_id, touchpoint
    """))


def _log(parquet: str, db: str):
    """The log as pandas and pm4py get it: the Parquet file, with each event's touchpoint from the store."""
    import pandas as pd

    import parcours
    from parcours.analytics.filters import events_sql

    store = parcours.open(db, read_only=True)
    names = store.engine.df(f"SELECT DISTINCT event, touchpoint FROM ({events_sql(store)})")
    store.close()
    df = pd.read_parquet(parquet)
    df["touchpoint"] = df["event"].map(dict(zip(names["event"], names["touchpoint"], strict=True)))
    return df


def _pandas(df) -> int:
    """The DFG the obvious pandas way: sort per customer, shift, group the pairs."""
    df = df.sort_values(["user_id", "timestamp", "touchpoint"], kind="stable")
    nxt = df.groupby("user_id", sort=False)["touchpoint"].shift(-1)
    pairs = df.assign(target=nxt).dropna(subset=["target"])
    return len(pairs.groupby(["touchpoint", "target"]).size())


def _pandas_from_store(store) -> int:
    """pandas again, but starting where ``dfg`` starts: reading the journey relation from the store."""
    from parcours.analytics.filters import events_sql

    df = store.engine.df(f"""
        SELECT customer_id AS user_id, timestamp, touchpoint FROM ({events_sql(store)}) WHERE touchpoint IS NOT NULL
    """)
    return _pandas(df)


def _pm4py(df) -> int:
    import pm4py

    dfg, _, _ = pm4py.discover_dfg(df, case_id_key="user_id", activity_key="touchpoint", timestamp_key="timestamp")
    return len(dfg)


def _child(method: str, db: str, parquet: str, queue) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    df = _log(parquet, db) if method in ("pandas", "pm4py") else None
    method = method.removesuffix("_live")  # run before the table is built: the live relation
    if method in ("bare", "dfg", "flows", "pandas_store"):  # imports and opening the store are not timed
        import parcours
        import parcours.analytics.paths.paths  # noqa: F401

        store = parcours.open(db, read_only=True)
        store.engine.df("SELECT 1")
    t = time.perf_counter()
    if method == "pandas":
        rows = _pandas(df)
    elif method == "pm4py":
        rows = _pm4py(df)
    elif method == "pandas_store":
        rows = _pandas_from_store(store)
    else:
        rows = _ours(store, method)
    elapsed = time.perf_counter() - t
    queue.put((elapsed, _peak_bytes(), rows))


def _peak_bytes() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited through fork/exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(method: str, db: str, parquet: str) -> tuple[float, int, int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(method, db, parquet, queue))
    p.start()
    result = queue.get()
    p.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: events / 10")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], help="methods to leave out (pandas, pm4py)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds of each phase's methods; each figure is its best round")
    args = parser.parse_args()
    customers = args.customers or max(args.events // 10, 1)
    import parcours

    with tempfile.TemporaryDirectory(prefix="parcours-paths-bench-") as tmp:
        parquet, db = Path(tmp) / "log.parquet", Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        n = generate(args.events, customers, args.seed, parquet)
        gen = time.perf_counter() - t
        store = parcours.open(db)
        t = time.perf_counter()
        parcours.import_file(store, parquet, fmt="parquet")
        load = time.perf_counter() - t
        store.close()
        print(f"events {n:,}  customers {customers:,}  (generate {gen:.1f}s, import {load:.1f}s)  "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        results: dict[str, tuple[float, int, int]] = {}

        def run(methods: tuple[str, ...]) -> None:
            """Each method once per round, interleaved so that a busy spell hits all of them alike."""
            for r in range(args.rounds):
                for method in methods:
                    s, rss, rows = measure(method, str(db), str(parquet))
                    print(f"  {method:<12} {s:>8.2f}s  peak {rss / 2**30:5.2f} GiB  ({rows:,} rows)"
                          f"{f'  round {r + 1}' if args.rounds > 1 else ''}", flush=True)
                    best = results.get(method, (s, rss, rows))
                    results[method] = (min(s, best[0]), max(rss, best[1]), rows)

        # the store is opened read-only in each child: before the journey table is built they
        # compute the journey relation live, after it they read the table
        print("live journey relation (no materialized table yet):")
        run(("bare_live", "dfg_live", "flows_live"))
        from parcours.analytics.paths.sequences import STEPS
        from parcours.journey.materialized import materialize

        store = parcours.open(db)
        journey = materialize(store)
        print(f"materialized journey table built in {journey:.2f}s (once per data change; not in the figures below)")
        steps = materialize(store, STEPS["touchpoint"])
        print(f"stored touchpoint sequence built in {steps:.2f}s (once per data change; not in the figures below)")
        build = journey + steps
        store.close()
        run(tuple(m for m in ("bare", "dfg", "flows", "pandas", "pandas_store", "pm4py") if m not in args.skip))
    bare = results["bare"][0]
    print("ratios (target: dfg and flows within 3x of bare; pandas and pm4py at least 10x slower than dfg)")
    for ours in ("dfg", "flows"):
        print(f"  {ours + ' / bare':<20} {results[ours][0] / bare:6.2f}x")
        live = results[ours + "_live"][0]
        print(f"  {ours + '_live / ' + ours:<20} {live / results[ours][0]:6.2f}x  "
              f"(both builds + {ours}: {(build + results[ours][0]) / live:.2f}x the live run)")
    for peer in ("pandas", "pandas_store", "pm4py"):
        if peer in results:
            print(f"  {peer + ' / dfg':<20} {results[peer][0] / results['dfg'][0]:6.2f}x")
    peak = max(r[1] for r in results.values()) / 2**30
    print(f"peak memory of any method: {peak:.2f} GiB (target < 8 GiB); load average {os.getloadavg()[0]:.1f}")
    if args.rounds > 1:
        print(f"(each figure: the best of {args.rounds} rounds; peak memory: the highest)")


if __name__ == "__main__":
    sys.exit(main())
