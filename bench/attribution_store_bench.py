"""Attribution from the store: what the time-decay half-life in time costs on top of the paths.

    .venv/bin/python bench/attribution_store_bench.py [--customers 50000] [--seed 1]

Loads the demo business (seeded) into a fresh store, then times, best of three, on the same
store in the same run:

- baseline: ``conversion_paths`` without a half-life (one row per path, the query every model
  but time decay needs);
- ``conversion_paths(half_life="7d")``: the same journeys with every touch weighed by its age
  in time and the credit summed per path position (what ``time_decay`` reads on a store);
- ``attribution`` with all eight models (one build of the time-decay paths, then the models).

It prints the times and the ratio of the time-decay query to the baseline. The load is not timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from timing import best_of

import parcours
from parcours.analytics.attribution import attribution, conversion_paths
from parcours.demo import load_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = parcours.open(Path(folder) / "bench.duckdb")
        start = time.perf_counter()
        load_demo(store, args.customers, args.seed)
        events = int(store.engine.df("SELECT count(*) AS n FROM events")["n"].iloc[0])
        print(f"demo: {args.customers:,} customers, {events:,} events, loaded in {time.perf_counter() - start:.1f} s")

        t_plain, plain = best_of(lambda: conversion_paths(store), repeat=3)
        t_decay, decay = best_of(lambda: conversion_paths(store, half_life="7d"), repeat=3)
        t_all, _ = best_of(lambda: attribution(store), repeat=3)
        print(f"paths, no half-life (baseline):   {t_plain:7.3f} s  ({plain.n_paths:,} paths, "
              f"{int(plain.conversions.sum()):,} conversions)")
        print(f"paths with a 7-day half-life:     {t_decay:7.3f} s  ({decay.n_paths:,} paths)")
        print(f"attribution, all eight models:    {t_all:7.3f} s")
        print(f"time-decay paths / baseline: {t_decay / t_plain:.2f}x")
        store.close()


if __name__ == "__main__":
    main()
