"""Incremental derived tables: a full build against catching up after appends, and the first
funnel after an import against a warm one (issue 16).

    nice .venv/bin/python bench/incremental_bench.py [--events 10000000] [--seed 3] [--repeat 3] [--dir DIR]

Set-up (not in the figures): N seeded events written straight into a fresh store (the
generator of ``scale_bench.py``: customers = N / 10, a third of them anonymous before an
identify with a shared e-mail trait), stitched once. Then:

- ``full build``: the materialized journey (``derived.journey``) and the stored touchpoint
  sequence (``derived.steps_touchpoint``) built from scratch, as after any non-append write, and
  a checkpoint of what it wrote (each timed step pays for its own writes: DuckDB checkpoints when
  its log passes 16 MB or the process closes the store);
- ``refresh after +0.1%`` / ``+1%``: that many new events imported through the real importer
  (a Parquet file; stitching and a checkpoint included, not timed), spread over existing
  customers, a tenth of them identifies that join a new anonymous id to an existing customer;
  then ``refresh`` of both tables and a checkpoint of what it wrote, timed (wall and CPU), printed with the customers and step
  rows it recomputed and as a share of the full build (targets: 5% and 10%). Twice: a
  back-fill (half the events at old times, inside the customers' journeys, half after them),
  then live appends (every event after the stored ones, as a collector's batches arrive);
- each of these figures is the best of ``--repeat`` runs, each on a fresh copy of the same
  store file opened anew (what a ``parcours journey refresh`` process meets), wall and CPU
  each the least of the runs, on both sides of every ratio: the machines are shared and a burst
  of other work only makes a run slower. All the runs' wall times are printed too; the next step
  starts from the last run's store;
- ``funnel``: a 4-step funnel warm (tables fresh, best of 3), then after another +0.1% import
  the first funnel (which catches the tables up itself), as a multiple of the warm one
  (target: 2x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from scale_bench import generate
from timing import best_of

import parcours
from parcours.analytics.paths.sequences import STEPS
from parcours.journey.materialized import JOURNEY, materialize, refresh_all

TABLES = (JOURNEY, STEPS["touchpoint"])
FUNNEL = ["site_visit", "add_to_cart", "checkout_start", "purchase"]


def append(store, path: Path, n: int, total: int, seed: int, live: bool = False) -> None:
    """Import ``n`` new events for existing customers through the importer (stitching included).

    Half of them at old times and half after the stored ones (a back-fill), or with ``live`` all
    after every stored event, in the order they arrive (a collector's batch). The import's writes
    are then checkpointed (not timed), as closing the importing process would: DuckDB checkpoints
    once its log passes 16 MB, and the first commit after would otherwise pay for the import's."""
    customers = max(total // 10, 1)
    # seconds after 2024-01-01: the generator's events span 90 days, back-fills 180
    when = (f"15552000 + {seed} * 1000000 + i" if live
            else f"(hash(i, {seed} + 1) % (7776000 * 2))::BIGINT")
    store.con.execute(f"""
        COPY (
            SELECT 'n{seed}_' || i AS message_id,
                   CASE WHEN i % 10 = 0 THEN 'identify' ELSE 'track' END AS type,
                   CASE WHEN i % 10 = 0 THEN 'identify'
                        ELSE (['site_visit', 'product_view', 'add_to_cart', 'checkout_start', 'purchase'])
                             [1 + (hash(i, {seed}) % 5)::BIGINT] END AS event,
                   (TIMESTAMP '2024-01-01' + to_seconds({when}))::TIMESTAMPTZ AS timestamp,
                   'c' || (hash(i, {seed} + 2) % {customers}) AS user_id,
                   CASE WHEN i % 10 = 0 THEN 'new{seed}_' || i END AS anonymous_id,
                   '{{}}' AS properties
            FROM range({n}) t(i)
        ) TO '{path}' (FORMAT parquet)
    """)
    parcours.import_file(store, path, fmt="parquet")
    store.con.execute("CHECKPOINT")


def timed_refresh(store) -> tuple[float, float, int, int, str]:
    """Wall and CPU seconds of ``refresh_all`` (CPU: this process's, DuckDB's threads included), the
    customers and step rows it recomputed, and how."""
    t0, c0 = time.perf_counter(), time.process_time()
    done = refresh_all(store, TABLES)  # as `parcours journey refresh` does
    store.con.execute("CHECKPOINT")  # its writes, as closing the process would
    return (time.perf_counter() - t0, time.process_time() - c0, max(d.customers for d in done),
            getattr(done[-1], "rows", 0), "+".join(d.how for d in done))


def timed_build(store) -> tuple[float, float]:
    """Wall and CPU seconds of building both tables from scratch, and a checkpoint of what it wrote."""
    t0, c0 = time.perf_counter(), time.process_time()
    for t in TABLES:
        materialize(store, t)
    store.con.execute("CHECKPOINT")  # its writes, as closing the process would
    return time.perf_counter() - t0, time.process_time() - c0


def from_copies(state: Path, work: Path, repeat: int, run):
    """``run(store)`` on ``repeat`` fresh copies of the store file ``state``; the best wall and CPU
    seconds (each the least of the runs: a burst of other work only makes a run slower) and the
    last run's other figures. ``work`` is left holding the last run's store."""
    walls, cpus = [], []
    for _ in range(repeat):
        shutil.copyfile(state, work)
        with parcours.open(work) as store:
            wall, cpu, *rest = run(store)
        walls.append(wall)
        cpus.append(cpu)
    return min(walls), min(cpus), rest, walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement, from copies of the same store")
    ap.add_argument("--dir", default=None, help="where the store is written (default: a temporary folder)")
    args = ap.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        state, work = tmp / "state.duckdb", tmp / "work.duckdb"
        with parcours.open(state) as store:
            t0 = time.perf_counter()
            generate(store, n, args.seed)
            store.con.execute("SELECT nextval('batch_seq')")  # the generator wrote batch 1 itself
            parcours.stitch(store)
            print(f"{n:,} events generated and stitched in {time.perf_counter() - t0:.1f}s "
                  f"(load {os.getloadavg()[0]:.1f})")
        full, full_cpu, _, walls = from_copies(state, work, args.repeat, timed_build)
        work.replace(state)
        with parcours.open(state) as store:
            steps = store.con.execute(f"SELECT count(*) FROM {TABLES[-1].table}").fetchone()[0]
        print(f"full build (journey + touchpoint steps): {full:.2f}s wall, {full_cpu:.2f}s CPU; {steps:,} step rows "
              f"(best of {args.repeat}: {', '.join(f'{w:.2f}' for w in walls)}s)")
        for share, target, live in ((0.001, 0.05, False), (0.01, 0.10, False), (0.001, 0.05, True),
                                    (0.01, 0.10, True)):
            added = max(int(n * share), 1)
            events = tmp / f"add{share}{live}.parquet"

            def appended_then_refreshed(store, events=events, added=added, share=share, live=live):
                append(store, events, added, n, args.seed + int(share * 1000) + 7 * live, live=live)
                return timed_refresh(store)

            seconds, cpu, (customers, rows, how), walls = from_copies(state, work, args.repeat,
                                                                      appended_then_refreshed)
            work.replace(state)
            ratio, cpu_ratio = seconds / full, cpu / full_cpu
            print(f"refresh after +{share:.1%} ({added:,} events, {'live' if live else 'back-fill'}): {seconds:.2f}s wall, {cpu:.2f}s CPU, {how}, "
                  f"{customers:,} customers, {rows:,} step rows recomputed; {ratio:.1%} of a full build's "
                  f"wall, {cpu_ratio:.1%} of its CPU (target {target:.0%}: "
                  f"{'met' if max(ratio, cpu_ratio) <= target else 'NOT met'}; "
                  f"best of {args.repeat}: {', '.join(f'{w:.2f}' for w in walls)}s)")
        with parcours.open(state) as store:
            parcours.funnel(store, FUNNEL)  # kernels compiled, tables fresh
            warm, _ = best_of(lambda: parcours.funnel(store, FUNNEL), 3)
            append(store, tmp / "funnel.parquet", max(n // 1000, 1), n, args.seed + 99)
            first, _ = best_of(lambda: parcours.funnel(store, FUNNEL), 1)
            again, _ = best_of(lambda: parcours.funnel(store, FUNNEL), 3)
            print(f"funnel: warm {warm:.2f}s; first after a +0.1% import {first:.2f}s = {first / warm:.1f}x warm "
                  f"(target 2x: {'met' if first <= 2 * warm else 'NOT met'}); "
                  f"next ones {again:.2f}s = {again / warm:.1f}x (the caught-up table is no longer "
                  "stored in full order)")
            print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
