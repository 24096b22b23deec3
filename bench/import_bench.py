"""Import speed and memory: parcours's importer beside DuckDB's own bare read, same file, same run.

Generates N seeded events (default 1,000,000) as CSV and as Parquet, then, each in a
fresh process and a fresh store file:

- ``duckdb``: ``CREATE TABLE t AS SELECT * FROM read_csv(...)`` / ``read_parquet(...)``,
  the baseline: no mapping, validation, ids or dedup;
- ``parcours``: ``parcours.import_file`` (mapping, validation, quarantine check, message
  ids, dedup against the store), without stitching; stitching is timed on its own.

Prints events/s, the ratio to the baseline (target: parcours within 3x) and each
process's peak memory, which shows the import streams: memory stays flat as N grows.

    .venv/bin/python bench/import_bench.py [--events 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
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


def child(kind: str, fmt: str, path: Path, db: Path) -> dict:
    """Runs in its own process, so that peak memory is this import's alone."""
    start = time.perf_counter()
    result: dict = {}
    if kind == "duckdb":
        reader = "read_csv" if fmt == "csv" else "read_parquet"
        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    else:
        import parcours

        with parcours.open(db) as store:
            summary = parcours.import_file(store, path, stitch=False)
            rows = summary.loaded
            result["import_s"] = time.perf_counter() - start
            t = time.perf_counter()
            parcours.stitch(store)
            result["stitch_s"] = time.perf_counter() - t
            t = time.perf_counter()
            again = parcours.import_file(store, path, stitch=False)
            result["reimport_s"] = time.perf_counter() - t
            result["reimport_loaded"] = again.loaded
        start_end = start + result["import_s"]
        result["seconds"] = start_end - start
    result.setdefault("seconds", time.perf_counter() - start)
    result["rows"] = rows
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
        print(f"{'format':8} {'duckdb ev/s':>12} {'parcours ev/s':>14} {'ratio':>6} {'stitch s':>9} "
              f"{'re-import s':>12} {'duckdb MiB':>11} {'parcours MiB':>13}")
        for fmt, path in files.items():
            base = run_child("duckdb", fmt, path, folder)
            ours = run_child("parcours", fmt, path, folder)
            assert base["rows"] == ours["rows"] == args.events, (base, ours)
            assert ours["reimport_loaded"] == 0, ours
            base_rate, our_rate = base["rows"] / base["seconds"], ours["rows"] / ours["seconds"]
            print(f"{fmt:8} {base_rate:12,.0f} {our_rate:14,.0f} {base_rate / our_rate:5.1f}x "
                  f"{ours['stitch_s']:9.2f} {ours['reimport_s']:12.2f} {base['peak_mib']:11.0f} {ours['peak_mib']:13.0f}")
        print("ratio = DuckDB's bare rate / parcours's rate (target: at most 3x)")


if __name__ == "__main__":
    main()
