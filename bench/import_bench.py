"""Import speed and memory: parcours's importer beside DuckDB's own bare read, same file, same run.

Generates N seeded events (default 1,000,000) as CSV and as Parquet, then, each in a
fresh process and a fresh store file:

- ``duckdb``: ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` / ``read_parquet(...)``,
  the baseline: no mapping, validation, ids or dedup;
- ``parcours``: ``parcours.import_file`` (mapping, validation, quarantine check, message
  ids, dedup against the store), without stitching; stitching is timed on its own.

Each side runs ``--repeat`` times, interleaved so both see the same load of a shared
machine, and the best run counts. Prints events/s, the ratio to the baseline (target:
parcours within 3x) and each process's peak memory (the import's, before stitching).
Then it imports ``--scale`` times as many events from Parquet and prints both peaks:
the import streams, so memory stays flat as N grows.

    .venv/bin/python bench/import_bench.py [--events 1000000] [--seed 7] [--repeat 2] [--scale 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def generate(folder: Path, n: int, seed: int) -> dict[str, Path]:
    """N events of 50k customers over 90 days: ids, event, ISO timestamp, channel, campaign, price."""
    csv, parquet = folder / "events.csv", folder / "events.parquet"
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(
        f"""
        CREATE TABLE g AS
        SELECT 'u' || CAST(floor(random() * 50000) AS INTEGER) AS user_id,
               CASE WHEN random() < 0.3 THEN 'anon-' || CAST(floor(random() * 80000) AS INTEGER) END AS anonymous_id,
               (['site_visit', 'product_view', 'add_to_cart', 'purchase', 'email_open', 'ad_click'])
                   [1 + CAST(floor(random() * 6) AS INTEGER)] AS event,
               strftime(TIMESTAMP '2024-01-01' + to_seconds(CAST(floor(random() * 7776000) AS BIGINT)),
                        '%Y-%m-%dT%H:%M:%SZ') AS timestamp,
               (['web', 'mobile', 'email'])[1 + CAST(floor(random() * 3) AS INTEGER)] AS channel,
               CASE WHEN random() < 0.2 THEN 'spring_sale' END AS utm_campaign,
               round(random() * 200, 2) AS price
        FROM range({n})
        """
    )
    con.execute(f"COPY g TO '{csv}' (HEADER)")
    con.execute(f"COPY g TO '{parquet}' (FORMAT parquet)")
    return {"csv": csv, "parquet": parquet}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process, all threads: a figure a loaded machine disturbs less than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(kind: str, fmt: str, path: Path, db: Path) -> dict:
    """Runs in its own process, so that peak memory is this import's alone."""
    start, cpu = time.perf_counter(), cpu_s()
    result: dict = {}
    if kind == "duckdb":
        reader = "read_csv" if fmt == "csv" else "read_parquet"
        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
        result["seconds"] = time.perf_counter() - start
        result["cpu_s"] = cpu_s() - cpu
        result["peak_mib"] = peak_mib()
    else:
        t = time.perf_counter()
        import parcours  # the package's own import time is not import work: reported apart

        # parcours loads its modules on first use (PEP 562): load the ones an import uses here,
        # so that the timed part is the import's work and not Python loading code
        parcours.open, parcours.import_file  # noqa: B018
        result["package_import_s"] = time.perf_counter() - t
        result["package_mib"] = peak_mib()  # pandas, scikit-learn, numba...: there before any import
        start, cpu = time.perf_counter(), cpu_s()
        with parcours.open(db) as store:
            summary = parcours.import_file(store, path, stitch=False)
            rows = summary.loaded
            result["seconds"] = time.perf_counter() - start
            result["cpu_s"] = cpu_s() - cpu
            result["peak_mib"] = peak_mib()  # the import's own peak, before stitching
            t = time.perf_counter()
            parcours.stitch(store)
            result["stitch_s"] = time.perf_counter() - t
            t = time.perf_counter()
            again = parcours.import_file(store, path, stitch=False)
            result["reimport_s"] = time.perf_counter() - t
            result["reimport_loaded"] = again.loaded
    result["rows"] = rows
    return result


def run_child(kind: str, fmt: str, path: Path, folder: Path) -> dict:
    db = folder / f"{kind}-{fmt}.duckdb"
    db.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, fmt, str(path), str(db)],
        check=True, capture_output=True, text=True,
    )
    db.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the best counts")
    parser.add_argument("--scale", type=int, default=3,
                        help="also import SCALE x EVENTS rows of Parquet to show peak memory stays flat (1: skip)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, fmt, path, db = args.child
        print(json.dumps(child(kind, fmt, Path(path), Path(db))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        files = generate(folder, args.events, args.seed)
        print(f"generated {args.events:,} events in {time.perf_counter() - t:.1f}s "
              f"(csv {files['csv'].stat().st_size / 2**20:.0f} MiB, parquet {files['parquet'].stat().st_size / 2**20:.0f} MiB)")
        print(f"load before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; best of {args.repeat} interleaved runs")
        print(f"{'format':8} {'duckdb ev/s':>12} {'parcours ev/s':>14} {'ratio':>6} {'cpu ratio':>10} {'stitch s':>9} "
              f"{'re-import s':>12} {'duckdb MiB':>11} {'parcours MiB':>13}")
        for fmt, path in files.items():
            bases, ours_runs = [], []
            for _ in range(args.repeat):  # interleaved, so that both sides see the same machine load
                bases.append(run_child("duckdb", fmt, path, folder))
                ours_runs.append(run_child("parcours", fmt, path, folder))
            base = min(bases, key=lambda r: r["seconds"])
            ours = min(ours_runs, key=lambda r: r["seconds"])
            assert base["rows"] == ours["rows"] == args.events, (base, ours)
            assert all(r["reimport_loaded"] == 0 for r in ours_runs), ours_runs
            base_rate, our_rate = base["rows"] / base["seconds"], ours["rows"] / ours["seconds"]
            cpu_ratio = min(r["cpu_s"] for r in ours_runs) / min(r["cpu_s"] for r in bases)
            print(f"{fmt:8} {base_rate:12,.0f} {our_rate:14,.0f} {base_rate / our_rate:5.1f}x {cpu_ratio:9.1f}x "
                  f"{ours['stitch_s']:9.2f} {ours['reimport_s']:12.2f} {base['peak_mib']:11.0f} {ours['peak_mib']:13.0f}")
        print("ratio = DuckDB's bare rate / parcours's rate (target: at most 3x); cpu ratio = the least CPU seconds "
              "(all threads) of a parcours run / of a DuckDB run, which a loaded machine blurs less; parcours's time runs from "
              f"opening the store to the import's end (`import parcours` itself took {ours['package_import_s']:.1f}s "
              f"and {ours['package_mib']:.0f} MiB)")
        print(f"load after: {os.getloadavg()[0]:.1f}")
        if args.scale > 1:
            big = folder / "big"
            big.mkdir()
            n = args.events * args.scale
            path = generate(big, n, args.seed)["parquet"]
            small = min(r["peak_mib"] for r in ours_runs)
            large = run_child("parcours", "parquet", path, big)
            print(f"memory bound: parquet import peak {small:.0f} MiB for {args.events:,} events, "
                  f"{large['peak_mib']:.0f} MiB for {n:,} ({large['peak_mib'] / small:.2f}x the memory "
                  f"for {args.scale}x the events)")

if __name__ == "__main__":
    main()
