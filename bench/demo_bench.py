"""Benchmark: the demo business, generated and loaded, for 100k customers (target: well under a minute).

Prints the time to simulate and write the events, to load them through the real importer
(validation, message ids, stitching), the events/s of each, and as a baseline measured in
the same run: DuckDB copying the same Parquet file into a table with nothing else done.

    .venv/bin/python bench/demo_bench.py [--customers 100000] [--seed 42]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

import parcours
from parcours.demo import write_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parcours-demo-bench-") as tmp:
        path = Path(tmp) / "demo.parquet"
        t = time.perf_counter()
        events = write_demo(args.customers, args.seed, path)
        generate = time.perf_counter() - t

        store = parcours.open(Path(tmp) / "demo.duckdb")
        t = time.perf_counter()
        summary = parcours.import_file(store, path, fmt="parquet")
        load = time.perf_counter() - t
        stats = parcours.store_stats(store)
        store.close()

        con = duckdb.connect(str(Path(tmp) / "bare.duckdb"))
        t = time.perf_counter()
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{path}')")
        bare = time.perf_counter() - t
        con.close()

    total = generate + load
    print(f"customers            {args.customers:>12,}")
    print(f"events               {events:>12,}  (loaded {summary.loaded:,}, quarantined {summary.quarantined}, "
          f"unmapped {stats['unmapped_events']}, stitched customers {stats['customers']:,})")
    print(f"generate + write     {generate:>11.2f}s  {events / generate:>12,.0f} events/s")
    print(f"import + stitch      {load:>11.2f}s  {events / load:>12,.0f} events/s")
    print(f"total                {total:>11.2f}s  (target: well under 60 s)")
    print(f"baseline bare copy   {bare:>11.2f}s  {events / bare:>12,.0f} events/s  (DuckDB read_parquet into a table)")
    print(f"ratio total / bare   {total / bare:>11.1f}x")


if __name__ == "__main__":
    main()
